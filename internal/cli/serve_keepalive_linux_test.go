package cli

import (
	"net"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The Socket.IO service's connections go without TCP keep-alive (the
// Engine.IO heartbeat watches them); the legacy service's keep Go's
// default.
func TestServeKeepAlive(t *testing.T) {
	urls, stop := startServe(t, "--legacy", "127.0.0.1:0", "--socketio", "127.0.0.1:0", "--drain", "100ms")
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("serve returned %v", err)
		}
	}()
	for name, want := range map[string]int{"legacy": 1, "socketio": 0} {
		u, err := url.Parse(urls[name])
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		got := acceptedKeepAlive(t, c.LocalAddr().(*net.TCPAddr))
		_ = c.Close()
		if got != want {
			t.Errorf("%s: SO_KEEPALIVE on the accepted connection = %d, want %d", name, got, want)
		}
	}
}

// acceptedKeepAlive finds, among this process's descriptors, the socket
// accepted for the client at peer, and reads its SO_KEEPALIVE.
func acceptedKeepAlive(t *testing.T, peer *net.TCPAddr) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			fd, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			sa, err := syscall.Getpeername(fd)
			if err != nil {
				continue
			}
			if in4, ok := sa.(*syscall.SockaddrInet4); !ok || in4.Port != peer.Port || !net.IP(in4.Addr[:]).Equal(peer.IP) {
				continue
			}
			v, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		time.Sleep(10 * time.Millisecond) // not accepted yet
	}
	t.Fatalf("no accepted connection from %v", peer)
	return -1
}
