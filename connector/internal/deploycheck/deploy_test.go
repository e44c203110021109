// Package deploy_test keeps the deployment files honest: the kustomization builds, the
// manifests say what the README promises, every environment variable they set is one the
// connector reads, the dashboard queries metrics that exist, and docker-compose is coherent.
package deploycheck_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
)

func knownVars() map[string]bool {
	m := map[string]bool{}
	for _, v := range config.Vars() {
		m[v.Name] = true
	}
	return m
}

type object struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Data       map[string]string
	Spec       json.RawMessage
	StringData map[string]string `json:"stringData"`
}

type probe struct {
	HTTPGet struct{ Path string } `json:"httpGet"`
}

type container struct {
	Name  string
	Image string
	Args  []string
	Ports []struct {
		Name          string
		ContainerPort int `json:"containerPort"`
	}
	EnvFrom []struct {
		ConfigMapRef *struct{ Name string } `json:"configMapRef"`
	} `json:"envFrom"`
	Env []struct {
		Name      string
		Value     string
		ValueFrom *struct {
			SecretKeyRef *struct{ Name, Key string } `json:"secretKeyRef"`
		} `json:"valueFrom"`
	}
	ReadinessProbe  *probe `json:"readinessProbe"`
	LivenessProbe   *probe `json:"livenessProbe"`
	StartupProbe    *probe `json:"startupProbe"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
		Capabilities             struct{ Drop []string }
	} `json:"securityContext"`
	Resources struct {
		Requests, Limits map[string]string
	}
}

// render builds a kustomization with `kubectl kustomize` when kubectl is installed (as on CI),
// else in-process with the same kustomize library, and returns the YAML and its objects by
// kind/name.
func render(t *testing.T, dir string) (string, map[string]object) {
	t.Helper()
	var out []byte
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		cmd := exec.Command(kubectl, "kustomize", dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if out, err = cmd.Output(); err != nil {
			t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
		}
	} else {
		k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
		resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
		if err != nil {
			t.Fatalf("kustomize build %s: %v", dir, err)
		}
		if out, err = resMap.AsYaml(); err != nil {
			t.Fatal(err)
		}
	}
	objs := map[string]object{}
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("manifest: %v\n%s", err, doc)
		}
		objs[o.Kind+"/"+o.Metadata["name"].(string)] = o
	}
	return string(out), objs
}

// The base works with any Kafka: no Strimzi kind, label or secret name anywhere.
func TestKustomizeBuildsAndManifestsHold(t *testing.T) {
	out, objs := render(t, "kubernetes/base")
	for _, want := range []string{"Deployment/partoo-connector", "ConfigMap/partoo-connector", "Secret/partoo-connector",
		"Service/partoo-connector", "PodDisruptionBudget/partoo-connector"} {
		if _, ok := objs[want]; !ok {
			t.Errorf("kustomize output lacks %s", want)
		}
	}
	if len(objs) != 5 {
		t.Errorf("the base renders %d objects, want the 5 above", len(objs))
	}
	for _, word := range []string{"strimzi", "Strimzi", "my-cluster", "KafkaTopic", "KafkaUser", "CLUSTER"} {
		if strings.Contains(out, word) {
			t.Errorf("the base mentions %q: it must work with any Kafka", word)
		}
	}
	known := knownVars()
	for k := range objs["ConfigMap/partoo-connector"].Data {
		if !known[k] {
			t.Errorf("ConfigMap sets %s, which the connector does not read", k)
		}
	}

	var dep struct {
		Replicas int
		Template struct {
			Spec struct {
				TerminationGracePeriodSeconds int `json:"terminationGracePeriodSeconds"`
				SecurityContext               struct {
					RunAsNonRoot *bool `json:"runAsNonRoot"`
				} `json:"securityContext"`
				Containers []container
				Volumes    []struct {
					Name   string
					Secret *struct{ SecretName string } `json:"secret"`
				}
			}
		}
	}
	if err := json.Unmarshal(objs["Deployment/partoo-connector"].Spec, &dep); err != nil {
		t.Fatal(err)
	}
	if dep.Replicas != 2 || objs["ConfigMap/partoo-connector"].Data["KAFKA_LEADER_ELECTION"] != "true" {
		t.Errorf("replicas = %d, KAFKA_LEADER_ELECTION %q: two replicas need leader election (one writer, one hot standby)",
			dep.Replicas, objs["ConfigMap/partoo-connector"].Data["KAFKA_LEADER_ELECTION"])
	}
	var pdb struct {
		MinAvailable int `json:"minAvailable"`
	}
	if err := json.Unmarshal(objs["PodDisruptionBudget/partoo-connector"].Spec, &pdb); err != nil || pdb.MinAvailable != 1 {
		t.Errorf("the PDB must keep one of the two replicas (minAvailable 1): %+v %v", pdb, err)
	}
	ps := dep.Template.Spec
	if ps.TerminationGracePeriodSeconds < 25 || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
		t.Errorf("pod spec: grace %d, runAsNonRoot %v", ps.TerminationGracePeriodSeconds, ps.SecurityContext.RunAsNonRoot)
	}
	c := ps.Containers[0]
	if !strings.Contains(c.Image, "partoo-connector") || len(c.Args) == 0 || c.Args[0] != "run" {
		t.Errorf("container image %q args %v", c.Image, c.Args)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("probes: readiness %+v liveness %+v", c.ReadinessProbe, c.LivenessProbe)
	}
	sc := c.SecurityContext
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		len(sc.Capabilities.Drop) == 0 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container securityContext %+v", sc)
	}
	if c.Resources.Limits["memory"] == "" || c.Resources.Requests["cpu"] == "" {
		t.Errorf("resources %+v", c.Resources)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != "partoo-connector" {
		t.Errorf("envFrom %+v", c.EnvFrom)
	}
	secret := objs["Secret/partoo-connector"]
	for _, e := range c.Env {
		if !known[e.Name] {
			t.Errorf("env %s is not read by the connector", e.Name)
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			if _, ok := secret.StringData[e.ValueFrom.SecretKeyRef.Key]; !ok {
				t.Errorf("env %s refers to missing secret key %s", e.Name, e.ValueFrom.SecretKeyRef.Key)
			}
		}
	}
}

// The Strimzi overlay adds the topics, a user with exactly the connector's ACLs and the cluster
// CA; the cluster name (cluster.yaml) and the namespace (kustomization.yaml) are each set once
// and reach every reference.
func TestStrimziOverlay(t *testing.T) {
	out, objs := render(t, "kubernetes/overlays/strimzi")
	var local struct {
		Data struct{ Name string }
	}
	raw, err := os.ReadFile("kubernetes/overlays/strimzi/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &local); err != nil || local.Data.Name == "" {
		t.Fatalf("cluster.yaml: %v", err)
	}
	cluster := local.Data.Name
	var kust struct{ Namespace string }
	raw, _ = os.ReadFile("kubernetes/overlays/strimzi/kustomization.yaml")
	if err := yaml.Unmarshal(raw, &kust); err != nil || kust.Namespace == "" {
		t.Fatalf("kustomization.yaml namespace: %v", err)
	}
	if strings.Contains(out, "CLUSTER") || strings.Contains(out, "strimzi-cluster") {
		t.Error("a cluster placeholder or the local cluster.yaml reached the output")
	}
	for key, o := range objs {
		if o.Metadata["namespace"] != kust.Namespace {
			t.Errorf("%s is in namespace %v, want %s", key, o.Metadata["namespace"], kust.Namespace)
		}
		if strings.HasPrefix(o.APIVersion, "kafka.strimzi.io/") {
			if labels, _ := o.Metadata["labels"].(map[string]any); labels["strimzi.io/cluster"] != cluster {
				t.Errorf("%s: strimzi.io/cluster = %v, want %s", key, labels["strimzi.io/cluster"], cluster)
			}
		}
	}
	cm := objs["ConfigMap/partoo-connector"].Data
	if !strings.HasPrefix(cm["KAFKA_BROKERS"], cluster+"-kafka-bootstrap:") || cm["KAFKA_TLS_CA_FILE"] == "" {
		t.Errorf("ConfigMap: KAFKA_BROKERS %q, KAFKA_TLS_CA_FILE %q", cm["KAFKA_BROKERS"], cm["KAFKA_TLS_CA_FILE"])
	}

	type topic struct {
		TopicName  string `json:"topicName"`
		Partitions int
		Config     map[string]any
	}
	tables := []string{defaultOf(t, "KAFKA_MESSAGES_TABLE_TOPIC"), defaultOf(t, "KAFKA_CONVERSATIONS_TABLE_TOPIC")}
	byTopic := map[string]string{"partoo-messages-events": cm["KAFKA_EVENTS_TOPIC"], "partoo-messages-state": cm["KAFKA_STATE_TOPIC"],
		"partoo-messages-table": tables[0], "partoo-conversations-table": tables[1]}
	policy := map[string]string{"partoo-messages-events": "delete", "partoo-messages-state": "compact",
		"partoo-messages-table": "compact", "partoo-conversations-table": "compact"}
	for name, want := range policy {
		var tp topic
		if err := json.Unmarshal(objs["KafkaTopic/"+name].Spec, &tp); err != nil {
			t.Fatal(err)
		}
		if tp.Config["cleanup.policy"] != want || tp.Partitions < 1 || tp.TopicName != byTopic[name] {
			t.Errorf("%s: %+v", name, tp)
		}
	}

	// The user: SCRAM, and exactly these ACLs.
	var user struct {
		Authentication struct{ Type string }
		Authorization  struct {
			Type string
			ACLs []struct {
				Resource struct {
					Type, Name  string
					PatternType string `json:"patternType"`
				}
				Operations []string
			} `json:"acls"`
		}
	}
	userObj, ok := objs["KafkaUser/"+cm["KAFKA_SASL_USERNAME"]]
	if !ok {
		t.Fatalf("no KafkaUser named KAFKA_SASL_USERNAME (%s)", cm["KAFKA_SASL_USERNAME"])
	}
	if err := json.Unmarshal(userObj.Spec, &user); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range user.Authorization.ACLs {
		if a.Resource.PatternType != "literal" {
			t.Errorf("ACL %+v is not literal", a.Resource)
		}
		ops := append([]string(nil), a.Operations...)
		sort.Strings(ops)
		got[a.Resource.Type+":"+a.Resource.Name] = strings.Join(ops, ",")
	}
	want := map[string]string{
		"topic:" + cm["KAFKA_EVENTS_TOPIC"]:                                         "Create,Describe,DescribeConfigs,Write",
		"topic:" + cm["KAFKA_STATE_TOPIC"]:                                          "Create,Describe,DescribeConfigs,Read,Write",
		"transactionalId:" + config.DefaultTransactionalID(cm["KAFKA_STATE_TOPIC"]): "Describe,Write",
	}
	for _, table := range tables { // on by default, written in the events' transactions
		want["topic:"+table] = "Create,Describe,DescribeConfigs,Write"
	}
	want["topic:"+cm["KAFKA_STATE_TOPIC"]+".signals"] = "Create,Describe,Read"
	want["group:"+config.DefaultTransactionalID(cm["KAFKA_STATE_TOPIC"])+".signals"] = "Describe,Read"
	// The lease topic and the presence group always (rebuild-state sees a live connector by
	// its membership); the lease group with leader election.
	want["topic:"+cm["KAFKA_STATE_TOPIC"]+".lease"] = "Create,Describe,Read"
	want["group:"+config.DefaultTransactionalID(cm["KAFKA_STATE_TOPIC"])+".presence"] = "Describe,Read"
	if cm["KAFKA_LEADER_ELECTION"] == "true" {
		want["group:"+config.DefaultTransactionalID(cm["KAFKA_STATE_TOPIC"])+".lease"] = "Describe,Read"
	}
	if user.Authentication.Type != "scram-sha-512" || cm["KAFKA_SASL_MECHANISM"] != "SCRAM-SHA-512" || !reflect.DeepEqual(got, want) {
		t.Errorf("KafkaUser: auth %q (mechanism %q), ACLs %v, want %v", user.Authentication.Type, cm["KAFKA_SASL_MECHANISM"], got, want)
	}

	// The Deployment reads the password Strimzi generates and mounts the cluster CA.
	var dep struct {
		Template struct {
			Spec struct {
				Containers []container
			}
		}
	}
	if err := json.Unmarshal(objs["Deployment/partoo-connector"].Spec, &dep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range dep.Template.Spec.Containers[0].Env {
		if e.Name == "KAFKA_SASL_PASSWORD" {
			ref := e.ValueFrom.SecretKeyRef
			found = ref != nil && ref.Name == cm["KAFKA_SASL_USERNAME"] && ref.Key == "password"
		}
	}
	if !found {
		t.Error("KAFKA_SASL_PASSWORD does not come from the KafkaUser's secret")
	}
	if !strings.Contains(out, "secretName: "+cluster+"-cluster-ca-cert") || !strings.Contains(out, "mountPath: "+filepath.Dir(cm["KAFKA_TLS_CA_FILE"])) {
		t.Error("the cluster CA secret is not mounted where KAFKA_TLS_CA_FILE points")
	}
}

func TestDashboardQueriesExistingMetrics(t *testing.T) {
	b, err := os.ReadFile("grafana/partoo-connector.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	zero := func() float64 { return 0 }
	m := metrics.New(metrics.Gauges{Conversations: zero, Messages: zero, BudgetTokens: zero, BudgetRate: zero,
		PassDone: zero, PassTotal: zero, PassETA: zero})
	// materialise label-only families
	m.OnAttempt(partoo.Attempt{Endpoint: "/messages", Status: 200})
	m.OnAttempt(partoo.Attempt{Endpoint: "/messages", Status: 502, Err: &partoo.APIError{Status: 502}})
	m.OnSkipped(partoo.SkippedItem{Endpoint: "/messages", Reason: partoo.SkipBadDate})
	m.Walked("complete", 0, 0)
	m.Committed([]string{"MessageCreated"}, []time.Duration{1})
	m.Picked("discovery")
	m.Shares(0.2, 0.5)
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range families {
		have[f.GetName()] = true
	}
	re := regexp.MustCompile(`partoo_connector_[a-z_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range re.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
				if !have[base] {
					t.Errorf("panel %q queries %s, which the connector does not export", p.Title, name)
				}
				n++
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d metric references in the dashboard", n)
	}
}

func TestComposeIsCoherent(t *testing.T) {
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string
			Restart     string
			Build       map[string]string
			Command     []string
			Entrypoint  []string
			Environment map[string]string
			DependsOn   map[string]struct{ Condition string } `json:"depends_on"`
			Healthcheck *struct{ Test []string }
		}
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	kafka, sim, conn := compose.Services["kafka"], compose.Services["partoo-sim"], compose.Services["connector"]
	if !strings.HasPrefix(kafka.Image, "apache/kafka:") || kafka.Environment["KAFKA_PROCESS_ROLES"] != "broker,controller" {
		t.Errorf("kafka service: %+v", kafka)
	}
	if sim.Build["dockerfile"] != "deploy/Dockerfile" || sim.Entrypoint[0] != "/usr/local/bin/partoo-sim" {
		t.Errorf("partoo-sim service: %+v", sim)
	}
	if _, err := os.Stat(sim.Build["dockerfile"][len("deploy/"):]); err != nil {
		t.Errorf("Dockerfile: %v", err)
	}
	for name, s := range compose.Services {
		if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
	if conn.Restart != "on-failure" && conn.Restart != "always" && conn.Restart != "unless-stopped" {
		t.Errorf("the connector must be restarted when it exits on failure (restart: %q)", conn.Restart)
	}
	for _, dep := range []string{"kafka", "partoo-sim"} {
		if conn.DependsOn[dep].Condition != "service_healthy" {
			t.Errorf("connector must wait for a healthy %s", dep)
		}
	}
	known := knownVars()
	for k := range conn.Environment {
		if !known[k] {
			t.Errorf("connector env %s is not read by the connector", k)
		}
	}
	for _, need := range []string{"PARTOO_API_URL", "PARTOO_API_KEY", "KAFKA_BROKERS"} {
		if conn.Environment[need] == "" {
			t.Errorf("connector env lacks %s", need)
		}
	}
	if conn.Environment["PARTOO_API_KEY"] != argAfter(sim.Command, "-api-key") {
		t.Errorf("the connector's key %q is not the simulator's %q", conn.Environment["PARTOO_API_KEY"], argAfter(sim.Command, "-api-key"))
	}
}

func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// defaultOf is a variable's default, as the connector documents it.
func defaultOf(t *testing.T, name string) string {
	for _, v := range config.Vars() {
		if v.Name == name {
			return v.Default
		}
	}
	t.Fatalf("no variable %s", name)
	return ""
}
