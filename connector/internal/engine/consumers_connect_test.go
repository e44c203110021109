package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
)

// The Kafka Connect recipe (docs/recipes.md, examples/kafka-connect): Kafka Connect standalone
// with Apicurio's converter and Debezium's JDBC sink replays the messages table topic from
// offset 0 into an empty table of a real PostgreSQL this test starts; the table must end equal
// to the simulator's current state of every message, with no row for a deleted one.
func init() { downstreamRecipes["kafka-connect"] = kafkaConnectRecipe }

const connectDir = "../../../examples/kafka-connect"

func kafkaConnectRecipe(t *testing.T, cases []*consumerCase, _ string) {
	need := func(what string, err error) {
		if err != nil {
			if kafkatest.RequireReal() {
				t.Fatalf("KAFKA_REQUIRE_REAL=1 but %s is missing: %v", what, err)
			}
			t.Skipf("%s is missing: %v", what, err)
		}
	}
	_, err := exec.LookPath("java")
	need("java", err)
	_, err = exec.LookPath("psql")
	need("psql (PostgreSQL's client)", err)
	pgBin, err := postgresBin()
	need("PostgreSQL's server (initdb, postgres)", err)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	began := time.Now()
	if out, err := exec.CommandContext(ctx, connectDir+"/connect.sh", "setup").CombinedOutput(); err != nil {
		t.Fatalf("examples/kafka-connect/connect.sh setup: %v\n%s", err, tail(string(out), 40))
	}
	t.Logf("Kafka Connect and its plugins ready in %v", time.Since(began).Round(time.Millisecond))

	ran := 0
	for _, c := range cases {
		if c.Registry == "" || c.Old != "" {
			// Connect's converters read the registry's framing, not Avro's single-object encoding.
			continue
		}
		ran++
		began := time.Now()
		pg := startPostgres(t, pgBin)
		t.Logf("PostgreSQL up in %v", time.Since(began).Round(time.Millisecond))
		logs, listener := startConnect(t, map[string]string{
			"KAFKA_BROKERS":        c.Brokers,
			"MESSAGES_TABLE_TOPIC": c.MessagesTable,
			"APICURIO_URL":         apicurioV2(c.Registry),
			"POSTGRES_URL":         pg.jdbcURL(),
			"POSTGRES_USER":        pg.user,
			"POSTGRES_PASSWORD":    "unused (trust)",
		}, connectDir+"/messages-postgres.properties")
		got, problem := map[string]messageTruth{}, "no read yet"
		deadline := time.Now().Add(5 * time.Minute) // generous: CI runs beside other JVMs
		for time.Now().Before(deadline) {
			if err := logs.alive(); err != nil {
				t.Fatal(err)
			}
			if status, err := connectStatus(listener, "partoo-messages-postgres"); err == nil && strings.Contains(status, `"FAILED"`) {
				t.Fatalf("the connector failed: %s\nConnect's last lines:\n%s", status, tail(logs.String(), 40))
			}
			got, err = pg.messages()
			if err == nil {
				if problem = compareMessages(got, c); problem == "" {
					break
				}
			} else {
				problem = err.Error()
			}
			time.Sleep(time.Second)
		}
		if problem != "" {
			t.Fatalf("%s: the PostgreSQL table does not reach the ground truth after 5 minutes: %s\nConnect's last lines:\n%s",
				c.MessagesTable, problem, tail(logs.String(), 40))
		}
		cols, _ := pg.psql(pg.db, `SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position)
  FROM information_schema.columns WHERE table_name = 'partoo_messages'`)
		t.Logf("the sink's table: %s", strings.TrimSpace(cols))
		t.Logf("%s → PostgreSQL: %d rows equal the simulator's messages, none of the %d deleted, in %v",
			c.MessagesTable, len(got), len(c.Deleted), time.Since(began).Round(time.Millisecond))
		backfillAgain(t, pg, listener, logs, c)
	}
	if ran == 0 {
		t.Fatal("no case with a schema registry: the Kafka Connect recipe reads the registry's framing")
	}
}

// apicurioV2 turns the registry's Confluent-compatible URL (…/apis/ccompat/v7) into the
// Apicurio v2 API URL that Apicurio's converter takes.
func apicurioV2(ccompat string) string {
	if i := strings.Index(ccompat, "/apis/"); i >= 0 {
		return ccompat[:i] + "/apis/registry/v2"
	}
	return strings.TrimRight(ccompat, "/") + "/apis/registry/v2"
}

// compareMessages says how the table differs from the case's ground truth; "" when equal.
func compareMessages(got map[string]messageTruth, c *consumerCase) string {
	var problems []string
	for id, want := range c.Messages {
		if g, ok := got[id]; !ok {
			problems = append(problems, "message "+id+" has no row")
		} else if g != want {
			problems = append(problems, fmt.Sprintf("message %s: row %+v, want %+v", id, g, want))
		}
	}
	for _, id := range c.Deleted {
		if _, ok := got[id]; ok {
			problems = append(problems, "deleted message "+id+" has a row")
		}
	}
	for id := range got {
		if _, ok := c.Messages[id]; !ok {
			problems = append(problems, "unknown message "+id+" has a row")
		}
	}
	if len(problems) == 0 {
		return ""
	}
	sort.Strings(problems)
	if len(problems) > 5 {
		problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
	}
	return fmt.Sprintf("%d rows, %d wanted: %s", len(got), len(c.Messages), strings.Join(problems, "; "))
}

// postgresBin finds the directory of initdb and postgres: on PATH, or Debian's.
func postgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Strings(matches)
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	return "", fmt.Errorf("no initdb on PATH nor under /usr/lib/postgresql (Debian: apt-get install postgresql)")
}

// postgres is a PostgreSQL server this test started, with an empty database.
type postgres struct {
	port int
	user string
	db   string
}

func (p *postgres) jdbcURL() string {
	return fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/%s", p.port, p.db)
}

// psql runs one SQL statement and returns its unaligned output.
func (p *postgres) psql(db, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "psql", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", p.user, "-d", db,
		"-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("psql: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// messagesQuery reads the sink's table as the ground truth's fields, by message id. The
// timestamp-micros date lands as a bigint of microseconds (Connect has no microsecond type:
// exact); the timestamp-millis date_ms as a timestamp (without time zone, UTC) of milliseconds.
const messagesQuery = `SELECT coalesce(json_object_agg(message_id, json_build_object(
  'conversation_id', conversation_id, 'business_id', business_id, 'messaging_partner', messaging_partner,
  'date_micros', date, 'status', status, 'content_type', content_type, 'sender_type', sender_type,
  'sender_label', sender_label, 'date_ms', (extract(epoch FROM date_ms) * 1000)::bigint)), '{}') FROM partoo_messages`

// messages reads the table the sink writes, after checking every row's date_ms against its date.
func (p *postgres) messages() (map[string]messageTruth, error) {
	out, err := p.psql(p.db, messagesQuery)
	if err != nil {
		return nil, err
	}
	var rows map[string]struct {
		messageTruth
		DateMs int64 `json:"date_ms"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		return nil, fmt.Errorf("the table as JSON: %v: %s", err, tail(out, 3))
	}
	got := map[string]messageTruth{}
	for id, r := range rows {
		if r.DateMs != r.DateMicros/1000 {
			return nil, fmt.Errorf("message %s: date_ms is %d ms, date %d µs", id, r.DateMs, r.DateMicros)
		}
		got[id] = r.messageTruth
	}
	return got, nil
}

// startPostgres initialises a cluster in a temporary directory and starts PostgreSQL on a free
// loopback port, as an unprivileged user when run as root (PostgreSQL refuses root); it is
// stopped when the test ends, and killed with the test process if that dies first.
func startPostgres(t *testing.T, bin string) *postgres {
	t.Helper()
	dir, err := os.MkdirTemp("", "partoo-postgres-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			t.Fatalf("running as root, and no postgres or nobody user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	p := &postgres{port: kafkatest.FreePort(t), user: "partoo", db: "partoo"}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", p.user, "--auth=trust", "-E", "UTF8",
		"--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, tail(string(out), 20))
	}
	// SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for clients to leave).
	logs := startDaemon(t, "postgres", dir, nil, cred, syscall.SIGINT, filepath.Join(bin, "postgres"), "-D", data,
		"-p", strconv.Itoa(p.port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	kafkatest.WaitFor(t, "PostgreSQL to answer", 2*time.Minute, func() bool {
		if err := logs.alive(); err != nil {
			t.Fatal(err)
		}
		_, err := p.psql("postgres", "SELECT 1")
		return err == nil
	})
	if _, err := p.psql("postgres", "CREATE DATABASE "+p.db); err != nil {
		t.Fatal(err)
	}
	return p
}

// startConnect runs examples/kafka-connect/connect.sh with worker.properties and the given
// connector configs, env added to the environment; it is stopped when the test ends.
func startConnect(t *testing.T, env map[string]string, connectors ...string) (logs *daemonLogs, listener string) {
	t.Helper()
	dir := t.TempDir()
	listener = "http://" + kafkatest.FreeAddr(t)
	vars := []string{"CONNECT_OFFSETS_FILE=" + filepath.Join(dir, "offsets"), "CONNECT_LISTENER=" + listener}
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	abs, err := filepath.Abs(connectDir)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"run", filepath.Join(abs, "worker.properties")}, connectors...)
	for i := 2; i < len(args); i++ {
		if args[i], err = filepath.Abs(args[i]); err != nil {
			t.Fatal(err)
		}
	}
	return startDaemon(t, "Kafka Connect", dir, vars, nil, syscall.SIGTERM, filepath.Join(abs, "connect.sh"), args...), listener
}

// daemonLogs is a process's output, and whether it still runs.
type daemonLogs struct {
	name string
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
	err  error
}

func (d *daemonLogs) Write(b []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.buf.Write(b)
}

func (d *daemonLogs) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.buf.String()
}

// alive is nil while the process runs.
func (d *daemonLogs) alive() error {
	select {
	case <-d.done:
		return fmt.Errorf("%s exited (%v); its last lines:\n%s", d.name, d.err, tail(d.String(), 40))
	default:
		return nil
	}
}

// startDaemon starts a long-running process, killed with the test process if that dies first
// (Pdeathsig), and stopped at cleanup: the stop signal, then SIGKILL after 30 s.
func startDaemon(t *testing.T, name, dir string, env []string, cred *syscall.Credential, stop syscall.Signal, bin string, args ...string) *daemonLogs {
	t.Helper()
	d := &daemonLogs{name: name, done: make(chan struct{})}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = d, d
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { d.err = cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(stop)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

// connectStatus is a connector's status from Connect's REST API (an error until it listens).
func connectStatus(listener, name string) (string, error) {
	resp, err := http.Get(listener + "/connectors/" + name + "/status")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// backfillAgain is docs/backfills.md's "backfilling again": the sink's table is dropped (a
// fresh database for the same connector), and the connector's offsets are reset with Connect's
// REST API (stop, DELETE offsets, resume); the table must then come back whole. Without the
// reset the connector would resume from its group's offsets and write nothing.
func backfillAgain(t *testing.T, pg *postgres, listener string, logs *daemonLogs, c *consumerCase) {
	t.Helper()
	const name = "partoo-messages-postgres"
	began := time.Now()
	call := func(method, path string) string {
		req, _ := http.NewRequest(method, listener+"/connectors/"+name+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, b)
		}
		return string(b)
	}
	call(http.MethodPut, "/stop")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := connectStatus(listener, name)
		if err == nil && strings.Contains(st, `"STOPPED"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the connector did not stop: %s %v\n%s", st, err, tail(logs.String(), 30))
		}
		time.Sleep(300 * time.Millisecond)
	}
	if _, err := pg.psql(pg.db, "DROP TABLE partoo_messages"); err != nil {
		t.Fatal(err)
	}
	// Why a second run writes nothing: the group Connect names after the connector holds the
	// offsets of the whole topic.
	group := "connect-" + name
	if n := committedOffsets(t, c, group); n == 0 {
		t.Fatalf("group %s has no committed offsets: docs/backfills.md's explanation would be wrong", group)
	}
	reset := call(http.MethodDelete, "/offsets")
	if n := committedOffsets(t, c, group); n != 0 {
		t.Fatalf("after DELETE /offsets group %s still has %d committed offsets", group, n)
	}
	call(http.MethodPut, "/resume")
	problem := "no read yet"
	for deadline = time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		got, err := pg.messages()
		if err != nil {
			problem = err.Error()
			continue
		}
		if problem = compareMessages(got, c); problem == "" {
			t.Logf("backfilled again after DELETE /connectors/%s/offsets (%s): the table is whole again in %v",
				name, strings.TrimSpace(reset), time.Since(began).Round(time.Millisecond))
			return
		}
	}
	t.Fatalf("after resetting the connector's offsets the table does not come back: %s\nConnect's last lines:\n%s",
		problem, tail(logs.String(), 40))
}

// committedOffsets sums the offsets group committed on the case's messages table topic.
func committedOffsets(t *testing.T, c *consumerCase, group string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.Brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("offsets of group %s: %v", group, err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == c.MessagesTable && o.At > 0 {
			sum += o.At
		}
	})
	return sum
}
