package deploycheck_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
)

// podSpec is what the organisations checks read of the Deployment.
type podSpec struct {
	Replicas int
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	}
	Template struct {
		Metadata struct{ Labels map[string]string }
		Spec     struct {
			TopologySpreadConstraints []struct {
				TopologyKey   string `json:"topologyKey"`
				LabelSelector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"labelSelector"`
			} `json:"topologySpreadConstraints"`
			Containers []struct {
				container
				VolumeMounts []mount `json:"volumeMounts"`
			}
			Volumes []volume
		}
	}
}

type mount struct {
	Name      string
	MountPath string `json:"mountPath"`
	SubPath   string `json:"subPath"`
}

type keyPath struct{ Key, Path string }

type volume struct {
	Name      string
	ConfigMap *struct {
		Name  string
		Items []keyPath
	} `json:"configMap"`
	Secret *struct {
		SecretName string `json:"secretName"`
		Items      []keyPath
	} `json:"secret"`
}

// pod is the rendered Deployment's pod: its spec, the container's environment as the process
// sees it (envFrom first, env over it, secret references resolved), and the files of each
// volume mounted from a ConfigMap or Secret of the render, by mount path.
type pod struct {
	spec   podSpec
	env    map[string]string
	mounts []mount
	vols   map[string]volume
	objs   map[string]object
}

func renderPod(t *testing.T, dir string) *pod {
	t.Helper()
	_, objs := render(t, dir)
	p := &pod{env: map[string]string{}, vols: map[string]volume{}, objs: objs}
	if err := json.Unmarshal(objs["Deployment/partoo-connector"].Spec, &p.spec); err != nil {
		t.Fatal(err)
	}
	c := p.spec.Template.Spec.Containers[0]
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef != nil {
			for k, v := range objs["ConfigMap/"+from.ConfigMapRef.Name].Data {
				p.env[k] = v
			}
		}
	}
	for _, e := range c.Env {
		p.env[e.Name] = e.Value
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			p.env[e.Name] = secretData(t, objs["Secret/"+ref.Name])[ref.Key]
		}
	}
	p.mounts = c.VolumeMounts
	for _, v := range p.spec.Template.Spec.Volumes {
		p.vols[v.Name] = v
	}
	return p
}

func secretData(t *testing.T, o object) map[string]string {
	out := map[string]string{}
	for k, v := range o.Data {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatalf("secret %v: data %s: %v", o.Metadata["name"], k, err)
		}
		out[k] = string(b)
	}
	for k, v := range o.StringData {
		out[k] = v
	}
	return out
}

// files are the files a volume shows, by path inside its mount: every key of its ConfigMap or
// Secret, or only its items; kind is "ConfigMap" or "Secret" ("" for another volume).
func (p *pod) files(t *testing.T, v volume) (kind string, files map[string]string) {
	var data map[string]string
	var items []keyPath
	switch {
	case v.ConfigMap != nil:
		kind, data, items = "ConfigMap", p.objs["ConfigMap/"+v.ConfigMap.Name].Data, v.ConfigMap.Items
	case v.Secret != nil:
		kind, data, items = "Secret", secretData(t, p.objs["Secret/"+v.Secret.SecretName]), v.Secret.Items
	default:
		return "", nil
	}
	files = map[string]string{}
	for k, val := range data {
		if items == nil {
			files[k] = val
		}
	}
	for _, it := range items {
		if val, ok := data[it.Key]; ok {
			files[it.Path] = val
		}
	}
	return kind, files
}

// file is what the container reads at the absolute path name: which kind of object it comes
// from, and its content. A subPath mount is refused: the kubelet never updates one, and these
// files must change without a restart.
func (p *pod) file(t *testing.T, name string) (kind, content string, ok bool) {
	for _, m := range p.mounts {
		rel, inside := strings.CutPrefix(path.Clean(name), strings.TrimSuffix(m.MountPath, "/")+"/")
		if !inside {
			continue
		}
		if m.SubPath != "" {
			t.Errorf("%s is under mount %s with subPath %s: never updated in a running pod; mount the directory", name, m.MountPath, m.SubPath)
		}
		kind, files := p.files(t, p.vols[m.Name])
		content, ok = files[rel]
		return kind, content, ok
	}
	return "", "", false
}

func subset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return len(sub) > 0
}

// The organisations overlay: several replicas sharing the organisations of a file mounted from
// a ConfigMap, every key from one mounted Secret; what the pods would read passes the
// connector's own validation.
func TestOrganizationsOverlay(t *testing.T) {
	p := renderPod(t, "kubernetes/overlays/organizations")
	if p.spec.Replicas < 2 || p.env["KAFKA_LEADER_ELECTION"] != "true" {
		t.Errorf("replicas %d, KAFKA_LEADER_ELECTION %q: the organisations are shared by 2 or more replicas through leader election's group",
			p.spec.Replicas, p.env["KAFKA_LEADER_ELECTION"])
	}
	known := knownVars()
	for k := range p.env {
		if !known[k] {
			t.Errorf("the container's environment has %s, which the connector does not read", k)
		}
	}
	for _, v := range config.OneOrganizationVars() {
		if _, ok := p.env[v]; ok {
			t.Errorf("the container's environment has %s, which the connector refuses beside %s", v, config.OrganizationsFileVar)
		}
	}
	orgsFile := p.env[config.OrganizationsFileVar]
	kind, body, ok := p.file(t, orgsFile)
	if !ok || kind != "ConfigMap" {
		t.Fatalf("%s=%q is not a file of a mounted ConfigMap (%q)", config.OrganizationsFileVar, orgsFile, kind)
	}
	var file struct {
		Organizations []struct {
			Name       string
			APIKeyFile string `json:"api_key_file"`
		}
	}
	if err := yaml.Unmarshal([]byte(body), &file); err != nil || len(file.Organizations) == 0 {
		t.Fatalf("the organisations file: %v\n%s", err, body)
	}
	for _, o := range file.Organizations {
		if kind, _, ok := p.file(t, o.APIKeyFile); !ok || kind != "Secret" {
			t.Errorf("organisation %s: api_key_file %q is not a key of a mounted Secret", o.Name, o.APIKeyFile)
		}
	}
	checkPDBAndSpread(t, p)
	checkLoads(t, p, len(file.Organizations))
}

// The PDB selects the Deployment's pods and lets one go at a time, whatever the replicas; the
// spread over nodes counts those pods.
func checkPDBAndSpread(t *testing.T, p *pod) {
	var pdb struct {
		MinAvailable   *int `json:"minAvailable"`
		MaxUnavailable *int `json:"maxUnavailable"`
		Selector       struct {
			MatchLabels map[string]string `json:"matchLabels"`
		}
	}
	if err := json.Unmarshal(p.objs["PodDisruptionBudget/partoo-connector"].Spec, &pdb); err != nil {
		t.Fatal(err)
	}
	labels := p.spec.Template.Metadata.Labels
	if !subset(pdb.Selector.MatchLabels, labels) || !subset(p.spec.Selector.MatchLabels, labels) {
		t.Errorf("the PDB selects %v, the Deployment %v: the pods are labelled %v", pdb.Selector.MatchLabels, p.spec.Selector.MatchLabels, labels)
	}
	if pdb.MinAvailable != nil || pdb.MaxUnavailable == nil || *pdb.MaxUnavailable != 1 {
		t.Errorf("the PDB: %s; want maxUnavailable 1 alone (one replica at a time, whatever N)", p.objs["PodDisruptionBudget/partoo-connector"].Spec)
	}
	spread := false
	for _, c := range p.spec.Template.Spec.TopologySpreadConstraints {
		spread = spread || c.TopologyKey == "kubernetes.io/hostname" && subset(c.LabelSelector.MatchLabels, labels)
	}
	if !spread {
		t.Errorf("no topology spread of the pods (labels %v) over kubernetes.io/hostname", labels)
	}
}

// checkLoads writes every mounted ConfigMap and Secret under a temporary root, points the
// paths of the environment and of the organisations file there, and loads the configuration
// as the connector does at start.
func checkLoads(t *testing.T, p *pod, want int) {
	root := t.TempDir()
	var pairs []string
	for _, m := range p.mounts {
		pairs = append(pairs, strings.TrimSuffix(m.MountPath, "/")+"/", filepath.Join(root, m.MountPath)+"/")
	}
	rebase := strings.NewReplacer(pairs...)
	for _, m := range p.mounts {
		kind, files := p.files(t, p.vols[m.Name])
		for rel, content := range files {
			if kind == "ConfigMap" {
				content = rebase.Replace(content)
			}
			f := filepath.Join(root, m.MountPath, rel)
			if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, v := range config.Vars() {
		t.Setenv(v.Name, "") // empty is unset: only the pod's environment counts
	}
	for k, v := range p.env {
		t.Setenv(k, rebase.Replace(v))
	}
	c, err := config.Load()
	if err != nil {
		t.Fatalf("the connector refuses the pod's configuration:\n%v", err)
	}
	if len(c.Organizations) != want {
		t.Errorf("the connector reads %d organisations, the file lists %d", len(c.Organizations), want)
	}
}
