package capacity

import (
	"reflect"
	"testing"
)

// A /proc/<pid>/status of a Go process, cut to the memory lines and their neighbours.
const statusFixture = `Name:	partoo-connecto
Umask:	0022
State:	S (sleeping)
Pid:	4242
VmPeak:	 1822364 kB
VmSize:	 1822364 kB
VmLck:	       0 kB
VmHWM:	  102400 kB
VmRSS:	   51200 kB
RssAnon:	   40960 kB
Threads:	9
`

func TestStatusMiBReadsThePeakAndTheCurrentResidentSet(t *testing.T) {
	for field, want := range map[string]float64{"VmHWM": 100, "VmRSS": 50, "RssAnon": 40} {
		got, ok := statusMiB(statusFixture, field)
		if !ok || got != want {
			t.Errorf("%s: %v %v, want %v", field, got, ok, want)
		}
	}
	if _, ok := statusMiB(statusFixture, "VmSwap"); ok {
		t.Error("VmSwap is not in the fixture")
	}
	if _, ok := statusMiB(statusFixture, "Threads"); ok {
		t.Error("Threads is not a memory field")
	}
}

func TestStatCPUSecondsSkipsTheCommandName(t *testing.T) {
	// utime 250 and stime 50 ticks; the command name holds a space and a parenthesis.
	stat := "4242 (partoo (conn) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 9 0 100 1822364 12800 18446744073709551615"
	if got, ok := statCPUSeconds(stat); !ok || got != 3 {
		t.Errorf("statCPUSeconds = %v %v, want 3 true", got, ok)
	}
	for _, bad := range []string{"", "4242 (x", "4242 (x) S 1 2"} {
		if _, ok := statCPUSeconds(bad); ok {
			t.Errorf("statCPUSeconds(%q) parsed", bad)
		}
	}
}

// A /proc/net/tcp: the process's HTTP listener (127.0.0.1:43251, inode 1001), two of its
// connections to the broker on 9092 (1002, 1003), one to the API on 38001 (1004), a
// connection to the broker in TIME_WAIT (inode 0), and the broker's own end of a connection
// (inode 2001, another process).
const tcpFixture = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A8F3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C350 0100007F:2384 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:C352 0100007F:2384 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:C354 0100007F:9471 01 00000000:00000000 00:00000000 00000000     0        0 1004 1 0000000000000000 20 4 30 10 -1
   4: 0100007F:C356 0100007F:2384 06 00000000:00000000 03:00000DB6 00000000     0        0 0 3 0000000000000000
   5: 0100007F:2384 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 20 4 30 10 -1
`

// A /proc/net/tcp6: one more connection of the process to the broker, over ::1 (inode 1005).
const tcp6Fixture = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:D4A2 00000000000000000000000001000000:2384 01 00000000:00000000 00:00000000 00000000     0        0 1005 1 0000000000000000 20 4 30 10 -1
`

func TestBrokerConnectionsCountTheProcessSocketsOnly(t *testing.T) {
	v4, err := parseNetTCP(tcpFixture)
	if err != nil {
		t.Fatal(err)
	}
	v6, err := parseNetTCP(tcp6Fixture)
	if err != nil {
		t.Fatal(err)
	}
	if len(v4) != 6 || len(v6) != 1 {
		t.Fatalf("parsed %d and %d sockets, want 6 and 1", len(v4), len(v6))
	}
	if want := (tcpSocket{LocalPort: 0xC350, RemotePort: 9092, State: tcpEstablished, Inode: 1002}); v4[1] != want {
		t.Errorf("line 1 = %+v, want %+v", v4[1], want)
	}
	var inodes = map[uint64]bool{}
	for _, link := range []string{"socket:[1001]", "socket:[1002]", "socket:[1003]", "socket:[1004]", "socket:[1005]",
		"pipe:[1006]", "anon_inode:[eventpoll]", "/dev/null"} {
		if ino, ok := socketInode(link); ok {
			inodes[ino] = true
		}
	}
	if want := map[uint64]bool{1001: true, 1002: true, 1003: true, 1004: true, 1005: true}; !reflect.DeepEqual(inodes, want) {
		t.Errorf("socket inodes %v, want %v", inodes, want)
	}
	ports, err := brokerPorts([]string{"localhost:9092"})
	if err != nil {
		t.Fatal(err)
	}
	established := owned(append(v4, v6...), inodes, tcpEstablished)
	if got := connectedTo(established, ports); got != 3 {
		t.Errorf("broker connections = %d, want 3 (two IPv4, one IPv6; not the broker's own end, not TIME_WAIT, not the API)", got)
	}
	if ls := owned(v4, inodes, tcpListen); len(ls) != 1 || ls[0].LocalPort != 43251 {
		t.Errorf("listeners = %+v, want the one on 43251", ls)
	}
}

func TestParseNetTCPRejectsAShortLine(t *testing.T) {
	if _, err := parseNetTCP("header\n   0: 0100007F:A8F3 00000000:0000 0A\n"); err == nil {
		t.Error("a line of 4 fields parsed")
	}
	if _, err := brokerPorts([]string{"localhost"}); err == nil {
		t.Error("a broker without a port parsed")
	}
}

func TestMetricGaugeReadsGoGoroutines(t *testing.T) {
	text := `# HELP go_gc_duration_seconds A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.
go_gc_duration_seconds{quantile="0"} 2.1e-05
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 137
go_goroutines_total_fake 1
`
	if v, ok := metricGauge(text, "go_goroutines"); !ok || v != 137 {
		t.Errorf("go_goroutines = %v %v, want 137", v, ok)
	}
	if _, ok := metricGauge(text, "go_threads"); ok {
		t.Error("go_threads is absent")
	}
}

func TestCPUModelIsTheFirstModelName(t *testing.T) {
	info := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n\nprocessor\t: 1\nmodel name\t: other\n"
	if got := cpuModel(info); got != "Intel(R) Xeon(R) CPU @ 2.20GHz" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := cpuModel("processor\t: 0\n"); got != "" {
		t.Errorf("cpuModel without a model name = %q", got)
	}
}
