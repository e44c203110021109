package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// procSh runs a bash snippet with deploy/lib/proc.sh sourced and PROC_ROOT set.
func procSh(t *testing.T, procRoot, script string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", "-c", "set -euo pipefail; say() { echo \"$*\" >&2; }; source lib/proc.sh; "+script)
	cmd.Env = append(os.Environ(), "PROC_ROOT="+procRoot)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// fakeProc writes /proc/<pid>/stat and cmdline under root.
func fakeProc(t *testing.T, root, pid, stat, cmdline string) {
	t.Helper()
	dir := filepath.Join(root, pid)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"stat": stat, "cmdline": cmdline} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestProcShTellsExecFromDeath: the start-up race of issue 18. The service's child writes its
// PID and then execs Java; read during the exec, /proc/PID/cmdline is empty. That reading must
// never count as death (kafka.sh used to remove the PID file of the starting JVM and leak it);
// a zombie or a vanished process is dead.
func TestProcShTellsExecFromDeath(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, "100", "100 (bash) S 1 100 100 0", "")
	go func() {
		time.Sleep(300 * time.Millisecond) // the exec completes while cmdline_of waits
		_ = os.WriteFile(filepath.Join(root, "100", "cmdline"), []byte("java\x00kafka.Kafka\x00/run/server.properties\x00"), 0o644)
	}()
	// As many polls as it takes (about 14 hours): however late the write comes on a busy
	// machine, it comes while cmdline_of waits.
	out, err := procSh(t, root, `started_and_gone 100 && echo gone || echo running; PROC_EXEC_WAIT_TRIES=1000000 cmdline_of 100`)
	if err != nil || out != "running\njava kafka.Kafka /run/server.properties" {
		t.Fatalf("a process in the middle of its exec: %q, %v; want running and its command line once exec'd", out, err)
	}

	fakeProc(t, root, "101", "101 (java) Z 1 101 101 0", "")
	fakeProc(t, root, "102", "102 (odd) Z) S 1 102 102 0", "x\x00")
	for _, tc := range []struct{ script, want string }{
		{`started_and_gone 101 && echo gone`, "gone"},                          // a zombie
		{`started_and_gone 999 && echo gone`, "gone"},                          // no such process
		{`cmdline_of 101 || echo dead`, "dead"},                                //
		{`started_and_gone 102 || echo running; cmdline_of 102`, "running\nx"}, // ')' in the name
	} {
		if out, err := procSh(t, root, tc.script); err != nil || out != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.script, out, err, tc.want)
		}
	}

	// And on the real /proc: a child that execs is running throughout, and shows its new
	// command line once the exec is done (polled until it does, at least 5 minutes, whatever
	// the scheduler does: a child that never ends cannot pass for one that ended).
	out, err = procSh(t, "/proc", `bash -c 'exec sleep 100000' & pid=$!
		for i in $(seq 20); do started_and_gone $pid && { echo "gone at $i"; exit 1; }; sleep 0.02; done
		for ((i = 0; i < 6000; i++)); do [[ "$(cmdline_of $pid)" == "sleep 100000 " ]] && break; started_and_gone $pid && { echo gone; exit 1; }; sleep 0.05; done
		cmdline_of $pid; kill $pid`)
	if err != nil || out != "sleep 100000" {
		t.Fatalf("a real child that execs: %q, %v", out, err)
	}
}
