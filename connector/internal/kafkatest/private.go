package kafkatest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Private is a real broker of one test's own, started with deploy/local-kafka/kafka.sh, for
// tests that stop, restart or freeze the broker (which the shared one must never be). It is a
// Cluster (Brokers, Kind) that can also be restarted empty, frozen and thawed.
type Private struct {
	Cluster
	t      testing.TB
	script string
	env    []string
}

// NewPrivate starts a private broker, stopped when the test ends. It needs what `make test`
// needs (Java 17+, Maven): it runs when a real broker was asked for (KAFKA_BROKERS set, as in
// `make test`) and skips the test otherwise, since the fallbacks have none to give. config
// lines ("key=value") are added to the broker's server.properties, over the template's.
func NewPrivate(t testing.TB, config ...string) *Private {
	t.Helper()
	if len(splitBrokers(os.Getenv(EnvBrokers))) == 0 {
		if RequireReal() {
			t.Fatalf("kafkatest: %s=1 but %s is empty: a private broker needs the local Kafka scripts' environment", EnvRequireReal, EnvBrokers)
		}
		t.Skip("kafkatest: a private broker runs only where a real broker runs (KAFKA_BROKERS, as in make test)")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	dir := t.TempDir()
	p := &Private{
		Cluster: Cluster{Brokers: []string{"127.0.0.1:" + strconv.Itoa(port)}, Kind: KindExternal},
		t:       t, script: filepath.Join(root, "deploy", "local-kafka", "kafka.sh"),
		env: append(os.Environ(), "LOCAL_KAFKA_PORT="+strconv.Itoa(port), "LOCAL_KAFKA_CONTROLLER_PORT="+strconv.Itoa(FreePort(t)),
			"LOCAL_KAFKA_RUN_DIR="+dir, "LOCAL_KAFKA_HEAP=384m", "LOCAL_KAFKA_EXTRA_CONFIG="+strings.Join(config, "\n")),
	}
	p.run("start")
	t.Cleanup(func() {
		p.Thaw()
		p.run("stop")
	})
	return p
}

// Restart stops the broker and starts it again with an empty data directory: a cluster that
// came back without its data.
func (p *Private) Restart() {
	p.t.Helper()
	p.run("stop")
	p.run("start")
}

// Freeze stops the broker's process (SIGSTOP): connections stay open, nothing is answered.
func (p *Private) Freeze() { p.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen broker (SIGCONT).
func (p *Private) Thaw() { p.signal(syscall.SIGCONT) }

func (p *Private) signal(sig syscall.Signal) {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.runDir(), "kafka.pid"))
	if err != nil {
		return // not running
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err == nil {
		_ = syscall.Kill(pid, sig)
	}
}

func (p *Private) run(cmd string) {
	p.t.Helper()
	c := exec.Command("bash", p.script, cmd)
	c.Env = p.env
	out, err := c.CombinedOutput()
	if err != nil {
		p.t.Fatalf("kafkatest: kafka.sh %s: %v\n%s", cmd, err, out)
	}
	p.t.Logf("kafkatest: private broker %s: %s", cmd, strings.TrimSpace(lastLine(string(out))))
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// moduleRoot is the directory holding go.mod, from the test's working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("kafkatest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// ServerLog returns the broker's log so far (server.log in its run directory).
func (p *Private) ServerLog() string {
	b, _ := os.ReadFile(filepath.Join(p.runDir(), "server.log"))
	return string(b)
}

// runDir is the broker's LOCAL_KAFKA_RUN_DIR: the last one in env, which overrides the
// shared broker's that env inherits.
func (p *Private) runDir() string {
	dir := ""
	for _, kv := range p.env {
		if v, ok := strings.CutPrefix(kv, "LOCAL_KAFKA_RUN_DIR="); ok {
			dir = v
		}
	}
	return dir
}
