package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestNeedsNamesWhatIsMissing: on a machine where it cannot install, the test command's
// first step names every missing tool, with the Debian packages, and fails before anything
// starts; with everything present it says nothing and succeeds.
func TestTestNeedsNamesWhatIsMissing(t *testing.T) {
	bin := t.TempDir() // a PATH with bash and the few tools the script itself uses, nothing else
	for _, tool := range []string{"bash", "id"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not found", tool)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(filepath.Join(bin, "bash"), "test-needs.sh")
	cmd.Env = []string{"PATH=" + bin, "TEST_NEEDS_NO_INSTALL=1"}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("nothing is installed on this PATH, yet test-needs.sh succeeded:\n%s", out)
	}
	// (The PostgreSQL server is also found under /usr/lib/postgresql, outside PATH: named only
	// where it is not installed there.)
	for _, want := range []string{"a Java 17+ JDK (javac)", "Maven (mvn)", "python3's venv module", "curl",
		"the PostgreSQL client (psql)", "apt-get install openjdk-17-jre-headless openjdk-17-jdk-headless maven make curl python3 python3-venv "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("test-needs.sh does not name %q:\n%s", want, out)
		}
	}
}
