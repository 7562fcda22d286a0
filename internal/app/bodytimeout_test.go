package app

import (
	"bufio"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// A request that announces a body and never sends it must not hold its
// connection and goroutine for good: net/http bounds the headers
// (ReadHeaderTimeout) but not the body, and a handler that answers
// without reading it (a refusal, a 404) first waits for it so that the
// connection can serve the next request. Edge and admin alike: the
// answer comes, or the connection closes, once ReadTimeout has passed.
func TestStalledRequestBodyIsCutOff(t *testing.T) {
	blue, green := testBackends(t)
	a := start(t, testConfig(blue, green, ""), Options{ReadTimeout: 300 * time.Millisecond})

	var wg sync.WaitGroup
	for name, addr := range map[string]string{"edge": a.EdgeAddr(), "admin": a.AdminAddr()} {
		for _, path := range []string{"/ws", "/socket.io/?EIO=4&transport=polling", "/api/v1/weight", "/nowhere"} {
			wg.Go(func() {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				_, err = c.Write([]byte("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"))
				if err != nil {
					t.Error(err)
					return
				}
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, err = bufio.NewReader(c).ReadString('\n') // an answer, or the close
				if errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("%s: POST %s whose body never comes: no answer and the connection still open after 10s (ReadTimeout 300ms)", name, path)
				}
			})
		}
	}
	wg.Wait()
}
