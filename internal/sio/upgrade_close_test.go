package sio

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync"
	"testing"
)

// TestOfficialClientServerCloseDuringUpgrade: the official socket.io-client,
// polling and upgrading to WebSocket, whose session the server closes
// after it answered the client's probe and released its poll with a noop,
// before the client's upgrade packet (a proxy in front of the server holds
// that noop back meanwhile): the client, which polls no more once the
// probe succeeded, still gets the DISCONNECT, over the WebSocket it
// upgrades to, reports "io server disconnect" and does not reconnect, as
// with the Node server. The server cut the probing WebSocket at the close,
// and the client either hung, polling paused, or reconnected.
func TestOfficialClientServerCloseDuringUpgrade(t *testing.T) {
	var (
		mu        sync.Mutex
		connected bool                  // a poll brought the CONNECT's answer
		polling   = make(chan struct{}) // closed at the poll after it
		armed     bool                  // the WebSocket went on to the server
	)
	held, release := make(chan struct{}), make(chan struct{})
	// The server closes the socket once the noop is held: the client polls
	// no more, so the DISCONNECT must go over the WebSocket.
	runServerClose(t, serverCloseRun{
		proxy: func(rp *httputil.ReverseProxy) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				if q.Get("transport") == "websocket" {
					// The upgrade starts once the client has connected and
					// polls again, so that the probe releases that poll
					// with the noop.
					<-polling
					mu.Lock()
					armed = true
					mu.Unlock()
					rp.ServeHTTP(w, r)
					return
				}
				if r.Method != http.MethodGet || q.Get("sid") == "" {
					rp.ServeHTTP(w, r)
					return
				}
				mu.Lock()
				if connected {
					connected = false
					close(polling)
				}
				mu.Unlock()
				rec := httptest.NewRecorder()
				rp.ServeHTTP(rec, r)
				body := rec.Body.String()
				mu.Lock()
				if strings.HasPrefix(body, "40") {
					connected = true
				}
				hold := armed && body == "6"
				if hold {
					armed = false
				}
				mu.Unlock()
				if hold {
					close(held)
					<-release
				}
				for k, vs := range rec.Header() {
					w.Header()[k] = vs
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
			}
		},
		held: held, heldWhat: "no poll was released for the upgrade", release: release,
		args: []string{"upgrade"},
	})
}
