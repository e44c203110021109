package deploycheck_test

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the tests from the repository's deploy/ directory: they read the Kubernetes
// bases, the Strimzi overlay, the dashboard and the compose file by their paths there. They live
// here, not in deploy/, because they check the manifests against internal packages (every
// variable the configuration reads, every metric the service registers).
func TestMain(m *testing.M) {
	if err := os.Chdir("../../../deploy"); err != nil {
		fmt.Fprintln(os.Stderr, "deploycheck:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
