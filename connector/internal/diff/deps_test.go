package diff_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDiffStaysPure guards the dependency direction: the diff links the domain model and the
// standard library, never an HTTP client, TLS or a Kafka client.
func TestDiffStaysPure(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to list the dependencies with")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const module = "github.com/partoo-connector/partoo-connector/"
	allowed := map[string]bool{
		module + "connector/internal/diff":  true,
		module + "connector/internal/model": true,
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, std, _ := strings.Cut(line, " ")
		switch {
		case path == "net/http" || path == "crypto/tls" || strings.HasPrefix(path, "github.com/twmb/franz-go"):
			t.Errorf("diff depends on %s", path)
		case std != "true" && !allowed[path]:
			t.Errorf("diff depends on %s: only the standard library and the model are allowed", path)
		}
	}
}
