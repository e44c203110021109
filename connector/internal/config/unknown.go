package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Prefixes of the variables this package reads: a variable that starts with one of them but
// is not one of ours is most likely a typo (PARTOO_API_ULR, KAFKA_BROKER) and is reported.
var Prefixes = []string{"PARTOO_", "KAFKA_", "SCHEDULER_", "SCHEMA_REGISTRY_", "WEBHOOK_", "LOG_", "HTTP_", "STATE_"}

// otherVars are variables with our prefixes that other programs own: the standard proxy
// settings, and the test harness's switches.
var otherVars = map[string]bool{
	"HTTP_PROXY": true, "KAFKA_REQUIRE_REAL": true, "SCHEMA_REGISTRY_TEST_URL": true, "SCHEMA_REGISTRY_REQUIRE_REAL": true,
	"KAFKA_HEAP_OPTS": true, "KAFKA_OPTS": true, "KAFKA_JVM_PERFORMANCE_OPTS": true, "KAFKA_LOG4J_OPTS": true,
}

// kubernetesService matches the variables Kubernetes injects for each Service of the
// namespace (a Service named "kafka" gives KAFKA_SERVICE_HOST, KAFKA_PORT_9092_TCP, ...).
var kubernetesService = regexp.MustCompile(`_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)?)$`)

// Unknown is a variable with one of our prefixes that no setting reads.
type Unknown struct {
	Name    string
	Suggest string // the closest known name, "" when none is close
}

// Warning is the sentence that reports the variable, with the name it most likely meant.
func (u Unknown) Warning() string {
	if u.Suggest != "" {
		return fmt.Sprintf("environment variable %s is not one the connector reads, and is ignored: did you mean %s?", u.Name, u.Suggest)
	}
	return fmt.Sprintf("environment variable %s is not one the connector reads, and is ignored", u.Name)
}

// UnknownVars lists the variables of environ ("NAME=value" entries, as os.Environ gives them)
// that carry one of our Prefixes but are not ours, each with the known name it is closest
// to. Kubernetes' service variables, other programs' well-known ones and alsoKnown (the
// variables the organisations file names) are left out.
func UnknownVars(environ []string, alsoKnown ...string) []Unknown {
	known := map[string]bool{}
	for _, n := range alsoKnown {
		known[n] = true
	}
	var names []string
	for _, v := range Vars() {
		known[v.Name] = true
		names = append(names, v.Name)
	}
	var out []Unknown
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if known[name] || otherVars[name] || kubernetesService.MatchString(name) || !hasPrefix(name) {
			continue
		}
		out = append(out, Unknown{Name: name, Suggest: closest(name, names)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func hasPrefix(name string) bool {
	for _, p := range Prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// closest returns the name nearest to s by edit distance, if it is near enough to be a typo
// (at most a third of its length), else "".
func closest(s string, names []string) string {
	best, bestD := "", len(s)/3+1
	for _, n := range names {
		if d := editDistance(s, n); d < bestD || (d == bestD && best == "" && d <= len(s)/3) {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein distance (adjacent transpositions count one).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
