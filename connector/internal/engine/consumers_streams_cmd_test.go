package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// streamsCommandsMarker precedes, in docs/recipes.md, the shell block of the commands that
// run the Kafka Streams applications.
const streamsCommandsMarker = "<!-- commands: kafka-streams -->"

// documentedStreamsCommands returns the commands of that block as written: one command per
// entry, continuation lines joined; comments and the `cd` into examples/kafka-streams (where
// the test runs them) left out.
func documentedStreamsCommands(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../../../docs/recipes.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), streamsCommandsMarker+"\n```sh\n")
	if !ok {
		t.Fatalf("docs/recipes.md has no %q followed by a sh block", streamsCommandsMarker)
	}
	block, _, _ := strings.Cut(after, "```")
	var cmds []string
	var cur string
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if cur == "" && (line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "cd ")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		cmds = append(cmds, cur+line)
		cur = ""
	}
	return cmds
}

// runDocumentedStreamsCommands runs the documented commands (docs/recipes.md, as written, with
// the case's topics in their variables) and reads what they print: the last value each prints
// per key must be the case's truth, within a bound; then they are stopped. A case with skipped
// records must see them named on stderr.
func runDocumentedStreamsCommands(t *testing.T, cases []*consumerCase) {
	cmds := documentedStreamsCommands(t)
	if len(cmds) != 2 || !strings.Contains(cmds[1], "MessagesPerBusinessApp") {
		t.Fatalf("docs/recipes.md's Kafka Streams commands: %q, want MessageStatusApp's and MessagesPerBusinessApp's", cmds)
	}
	for _, c := range cases {
		if !(c.Old == "" && c.Registry != "") && c.Old != "ef76f95" {
			continue // today's registry case and the previous release's single-object one
		}
		env := map[string]string{"BROKERS": c.Brokers, "EVENTS_TOPIC": c.Topic,
			"CONVERSATIONS_TABLE_TOPIC": c.ConversationsTable, "REGISTRY_URL": c.Registry}
		want := map[string]string{}
		for id, s := range c.Truth.Status {
			want["message-status "+id] = s
		}
		for conv, n := range c.Truth.Created {
			want["messages-per-conversation "+conv] = strconv.Itoa(n)
		}
		var stderrWant []string
		for what, n := range c.Skipped {
			stderrWant = append(stderrWant, fmt.Sprintf("skipped %d records of unknown schema %s", n, what))
		}
		runUntilPrinted(t, cmds[0], env, want, stderrWant)
		if c.ConversationsTable == "" {
			continue
		}
		want = map[string]string{}
		for k, n := range c.CreatedPerBusinessPartner {
			want["messages-per-business-channel "+k] = strconv.Itoa(n)
		}
		runUntilPrinted(t, cmds[1], env, want, nil)
	}
}

// runUntilPrinted runs command with bash in examples/kafka-streams until the last value it
// printed for each key ("<table> <key> <value>" lines) is want's, and its stderr holds every
// stderrWant; then stops it (its whole process group).
func runUntilPrinted(t *testing.T, command string, env map[string]string, want map[string]string, stderrWant []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", command)
	cmd.Dir = "../../../examples/kafka-streams"
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var stderr bytes.Buffer
	cmd.Stderr = lockedWriter{&mu, &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	got := map[string]string{}
	lines := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		lines++
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		got[f[0]+" "+f[1]] = f[2]
		if !maps.Equal(got, want) {
			continue
		}
		mu.Lock()
		errs := stderr.String()
		mu.Unlock()
		missing := false
		for _, w := range stderrWant {
			missing = missing || !strings.Contains(errs, w)
		}
		if !missing {
			stop()
			t.Logf("%q printed the truth (%d keys, %d lines)", command, len(want), lines)
			return
		}
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	t.Fatalf("%q with %v ended or timed out (%v) before printing the truth:\ngot  %v\nwant %v\nstderr must hold %q:\n%s",
		command, env, ctx.Err(), got, want, stderrWant, tail(stderr.String(), 40))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
