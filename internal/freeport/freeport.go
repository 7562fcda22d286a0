// Package freeport picks loopback TCP ports for processes that must be
// told their port before they start: a service under test, the gateway's
// configuration file, a benchmark's Redis.
//
// Two things can take such a port between the pick and the bind. This
// process can hand the same port out twice: a port just closed is free
// again, and the kernel may offer it to the next pick. And any outgoing
// connection on the machine can take it as its source port, when the port
// lies in the range the kernel picks source ports from. So ports are
// picked at random below that range, and never twice by one process.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// span is how many ports below the source-port range a pick draws from.
const span = 12000

// lowestPort is the bottom of any range picked from: ports under 1024
// need privileges, and the ones just above them are other services'.
const lowestPort = 10000

var (
	mu     sync.Mutex
	handed = map[int]bool{}
)

// Addr returns "127.0.0.1:port" for a port nothing listens on now and
// that this process has not returned before.
func Addr() (string, error) {
	port, err := Port()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// Port returns a port nothing on 127.0.0.1 listens on now and that this
// process has not returned before.
func Port() (int, error) {
	return pick(pickRange(sourcePortRange()))
}

// pick draws from [lo, hi), then asks the kernel.
func pick(lo, hi int) (int, error) {
	mu.Lock()
	defer mu.Unlock()
	if lo < hi {
		for range 100 {
			port := lo + rand.IntN(hi-lo)
			if !handed[port] && free(port) {
				handed[port] = true
				return port, nil
			}
		}
	}
	// No room below the source-port range (or all tries taken): let the
	// kernel pick, which can still repeat a port, so skip the repeats.
	for range 100 {
		port, err := kernelPick()
		if err != nil {
			return 0, err
		}
		if !handed[port] {
			handed[port] = true
			return port, nil
		}
	}
	return 0, errors.New("freeport: no free port found")
}

// pickRange is the range [lo, hi) to draw from, below the source ports
// starting at low.
func pickRange(low int) (lo, hi int) {
	return max(lowestPort, low-span), low
}

// sourcePortRange returns the lowest port the kernel uses as a source
// port for outgoing connections: Linux's default when it cannot tell.
func sourcePortRange() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\t")
	low, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 32768
	}
	return low
}

func free(port int) bool {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

func kernelPick() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("freeport: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
