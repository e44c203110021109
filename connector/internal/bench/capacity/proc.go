package capacity

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// What this file reads of a process: the parsing is pure (tested from fixtures in
// proc_test.go), the I/O around it a few lines each.

// statusMiB is a memory field of /proc/<pid>/status ("VmHWM:" the peak resident set since the
// start, "VmRSS:" the current one) in MiB; false when the field is missing.
func statusMiB(status, field string) (float64, bool) {
	for _, line := range strings.Split(status, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == field+":" && f[2] == "kB" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}

// statCPUSeconds is the user + system CPU time of a /proc/<pid>/stat line (in clock ticks of
// USER_HZ, 100 on Linux); false when the line does not parse.
func statCPUSeconds(stat string) (float64, bool) {
	i := strings.LastIndexByte(stat, ')') // the command name may hold spaces and parentheses
	if i < 0 || i+2 > len(stat) {
		return 0, false
	}
	fields := strings.Fields(stat[i+2:]) // from the state, the 3rd field
	if len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100, err1 == nil && err2 == nil
}

// TCP states of /proc/net/tcp (include/net/tcp_states.h).
const (
	tcpEstablished = 0x01
	tcpListen      = 0x0A
)

// tcpSocket is one line of /proc/net/tcp or tcp6.
type tcpSocket struct {
	LocalPort, RemotePort int
	State                 int
	Inode                 uint64
}

// parseNetTCP reads /proc/net/tcp or /proc/net/tcp6 (the header line is skipped; the
// addresses are hex, the ports after the colon).
func parseNetTCP(text string) ([]tcpSocket, error) {
	var out []tcpSocket
	for n, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if n == 0 || len(f) == 0 {
			continue
		}
		if len(f) < 10 {
			return nil, fmt.Errorf("net/tcp line %d: %d fields", n+1, len(f))
		}
		local, err1 := hexPort(f[1])
		remote, err2 := hexPort(f[2])
		state, err3 := strconv.ParseUint(f[3], 16, 8)
		inode, err4 := strconv.ParseUint(f[9], 10, 64)
		for _, err := range []error{err1, err2, err3, err4} {
			if err != nil {
				return nil, fmt.Errorf("net/tcp line %d: %w", n+1, err)
			}
		}
		out = append(out, tcpSocket{LocalPort: local, RemotePort: remote, State: int(state), Inode: inode})
	}
	return out, nil
}

func hexPort(addr string) (int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return 0, fmt.Errorf("address %q has no port", addr)
	}
	p, err := strconv.ParseUint(addr[i+1:], 16, 16)
	return int(p), err
}

// socketInode is the inode of an fd link of /proc/<pid>/fd ("socket:[12345]"); false for any
// other file.
func socketInode(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok || !strings.HasSuffix(s, "]") {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
	return n, err == nil
}

// owned keeps the sockets whose inode the process holds, in the given state.
func owned(sockets []tcpSocket, inodes map[uint64]bool, state int) []tcpSocket {
	var out []tcpSocket
	for _, s := range sockets {
		if s.State == state && inodes[s.Inode] {
			out = append(out, s)
		}
	}
	return out
}

// connectedTo counts the sockets whose remote port is one of ports.
func connectedTo(sockets []tcpSocket, ports map[int]bool) int {
	n := 0
	for _, s := range sockets {
		if ports[s.RemotePort] {
			n++
		}
	}
	return n
}

// processSockets reads the TCP sockets (IPv4 and IPv6) of pid's network namespace that pid
// holds, in the given state.
func processSockets(pid, state int) ([]tcpSocket, error) {
	links, err := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[uint64]bool{}
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil {
			if ino, ok := socketInode(target); ok {
				inodes[ino] = true
			}
		}
	}
	var all []tcpSocket
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			return nil, err
		}
		s, err := parseNetTCP(string(b))
		if err != nil {
			return nil, err
		}
		all = append(all, s...)
	}
	return owned(all, inodes, state), nil
}

// brokerPorts are the ports of the broker addresses (host:port).
func brokerPorts(brokers []string) (map[int]bool, error) {
	ports := map[int]bool{}
	for _, b := range brokers {
		_, p, err := net.SplitHostPort(b)
		if err != nil {
			return nil, fmt.Errorf("broker %q: %w", b, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("broker %q: port %q", b, p)
		}
		ports[n] = true
	}
	return ports, nil
}

// metricGauge is the value of an unlabelled metric in Prometheus' text format ("go_goroutines
// 42"); false when absent.
func metricGauge(text, name string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// goroutines reads go_goroutines from the process's /metrics: the process's listening socket
// (it serves HTTP_ADDR=127.0.0.1:0, its only listener) names the port. 0 when it cannot.
func goroutines(pid int) int {
	ls, err := processSockets(pid, tcpListen)
	if err != nil {
		return 0
	}
	client := http.Client{Timeout: 5 * time.Second}
	for _, l := range ls {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", l.LocalPort))
		if err != nil {
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if v, ok := metricGauge(string(b), "go_goroutines"); err == nil && ok {
			return int(v)
		}
	}
	return 0
}

// cpuModel is the first "model name" of /proc/cpuinfo; "" when absent.
func cpuModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Machine names the machine a run measures: its cores as nproc counts them (the CPUs this
// process may run on), the CPU model of /proc/cpuinfo, the OS and architecture.
func Machine() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	model := cpuModel(string(b))
	if model == "" {
		model = "CPU model unknown"
	}
	return fmt.Sprintf("%d cores (nproc), %s, %s/%s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH)
}
