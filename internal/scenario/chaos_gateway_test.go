package scenario

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// goroutines ends the gateway with SIGQUIT, which makes the Go runtime
// print every goroutine, and reports them by the function that started
// them.
func (ch *chaos) goroutines(t *testing.T, sessions int) {
	t.Helper()
	gw := ch.c.gw
	gw.signal(syscall.SIGQUIT)
	select {
	case <-gw.done:
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not end on SIGQUIT")
	}
	out := gw.out.String()
	i := strings.Index(out, "goroutine ")
	if i < 0 {
		t.Fatalf("no goroutine dump in the gateway's output")
	}
	by := make(map[string]int)
	total := 0
	for _, g := range strings.Split(out[i:], "\n\n") {
		if !strings.HasPrefix(g, "goroutine ") {
			continue
		}
		total++
		key := "?"
		if j := strings.Index(g, "created by "); j >= 0 {
			key = strings.Fields(g[j+len("created by "):])[0]
		}
		by[key]++
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return by[b] - by[a] })
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %4d %s", by[k], k)
	}
	t.Logf("gateway goroutines with %d sessions: %d%s", sessions, total, b.String())
	ch.nGoroutines = total
}

// upstreamExtra counts the gateway's established connections to each
// backend beyond the sessions the status puts there (the probes' and
// standbys', or leaked ones).
func (ch *chaos) upstreamExtra(t *testing.T) map[string]int {
	t.Helper()
	st, err := ch.c.status()
	if err != nil {
		t.Fatal(err)
	}
	conns, err := establishedTo(ch.c.gw.cmd.Process.Pid, ch.c.cfg.Blue, ch.c.cfg.Green)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]int{
		"blue":  conns[ch.c.cfg.Blue] - st.Sessions.Blue,
		"green": conns[ch.c.cfg.Green] - st.Sessions.Green,
	}
}

// establishedTo counts the process' established TCP connections to each of
// addrs (loopback host:port), from /proc.
func establishedTo(pid int, addrs ...string) (map[string]int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := make(map[string]bool)
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	ports := make(map[string]string) // hex port -> addr
	for _, a := range addrs {
		_, p, _ := strings.Cut(a, ":")
		n, _ := strconv.Atoi(p)
		ports[fmt.Sprintf("%04X", n)] = a
	}
	out := make(map[string]int)
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 10 || f[3] != "01" || !inodes[f[9]] {
				continue
			}
			_, rport, _ := strings.Cut(f[2], ":")
			if a, ok := ports[rport]; ok {
				out[a]++
			}
		}
		_ = fh.Close()
	}
	return out, nil
}

// waitGroup waits for wg, bounded.
func waitGroup(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
