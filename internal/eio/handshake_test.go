package eio

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestHandshakePolling(t *testing.T) {
	ts := startServer(t, Config{})
	status, body, h := do(t, "GET", ts.url+"?EIO=4&transport=polling", "")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	if ct := h.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Errorf("content-type %q", ct)
	}
	if !strings.HasPrefix(body, "0") {
		t.Fatalf("body %q", body)
	}
	var hs map[string]any
	if err := json.Unmarshal([]byte(body[1:]), &hs); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"upgrades": []any{"websocket"}, "pingInterval": 300.0, "pingTimeout": 200.0, "maxPayload": 1e6}
	for k, v := range want {
		if got, _ := json.Marshal(hs[k]); string(got) != mustJSON(v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(v))
		}
	}
	if sid, _ := hs["sid"].(string); len(sid) != 20 {
		t.Errorf("sid %q", hs["sid"])
	}
	if len(hs) != 5 {
		t.Errorf("keys %v", hs)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestHandshakeWebSocket(t *testing.T) {
	ts := startServer(t, Config{})
	ws := dial(t, ts.wsURL("EIO=4&transport=websocket"))
	_, msg := read(t, ws)
	if !strings.HasPrefix(msg, "0{") || !strings.Contains(msg, `"upgrades":[]`) ||
		!strings.Contains(msg, `"pingInterval":300,"pingTimeout":200,"maxPayload":1000000`) {
		t.Fatalf("open packet %q", msg)
	}
}

// The refusals answer like the Node server: status 400 and a JSON body
// with the protocol error code.
func TestRequestErrors(t *testing.T) {
	ts := startServer(t, Config{})
	cases := []struct {
		name, method, query, body string
	}{
		{"no EIO", "GET", "transport=polling", `{"code":5,"message":"Unsupported protocol version"}`},
		{"bad EIO", "GET", "EIO=abc&transport=polling", `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO 3", "GET", "EIO=3&transport=polling", `{"code":5,"message":"Unsupported protocol version"}`},
		{"no transport", "GET", "EIO=4", `{"code":0,"message":"Transport unknown"}`},
		{"bad transport", "GET", "EIO=4&transport=abc", `{"code":0,"message":"Transport unknown"}`},
		{"POST handshake", "POST", "EIO=4&transport=polling", `{"code":2,"message":"Bad handshake method"}`},
		{"PUT handshake", "PUT", "EIO=4&transport=polling", `{"code":2,"message":"Bad handshake method"}`},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=nope", `{"code":1,"message":"Session ID unknown"}`},
		{"websocket without upgrade", "GET", "EIO=4&transport=websocket", `{"code":3,"message":"Bad request"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, h := do(t, c.method, ts.url+"?"+c.query, "")
			if status != 400 || body != c.body {
				t.Errorf("got %d %s, want 400 %s", status, body, c.body)
			}
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content-type %q", ct)
			}
		})
	}
}

func TestBadWebSocketRequestsAreRefused(t *testing.T) {
	ts := startServer(t, Config{})
	for _, q := range []string{"transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc", "EIO=4&transport=websocket&sid=nope"} {
		u := ts.wsURL(q)
		ws, res, err := dialRaw(u)
		if err == nil {
			_ = ws.CloseNow()
			t.Errorf("%s: dial succeeded", q)
			continue
		}
		if res == nil || res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: response %v", q, res)
		}
	}
}

func TestSIDMismatchedProtocol(t *testing.T) {
	ts := startServer(t, Config{})
	sid := ts.openPolling(t)
	status, body, _ := do(t, "GET", ts.url+"?EIO=3&transport=polling&sid="+sid, "")
	if status != 400 || body != `{"code":3,"message":"Bad request"}` {
		t.Errorf("got %d %s", status, body)
	}
}

func TestCheckRequestForbids(t *testing.T) {
	ts := startServer(t, Config{CheckRequest: func(r RequestInfo) error {
		if r.Query.Get("token") != "ok" {
			return errForTest("no token")
		}
		return nil
	}})
	status, body, _ := do(t, "GET", ts.url+"?EIO=4&transport=polling", "")
	if status != 403 || body != `{"code":4,"message":"no token"}` {
		t.Errorf("got %d %s", status, body)
	}
	if status, _, _ := do(t, "GET", ts.url+"?EIO=4&transport=polling&token=ok", ""); status != 200 {
		t.Errorf("with token: %d", status)
	}
}

type errForTest string

func (e errForTest) Error() string { return string(e) }

func TestCORS(t *testing.T) {
	t.Run("any origin", func(t *testing.T) {
		ts := startServer(t, Config{CORS: CORS{Origins: []string{"*"}}})
		req, _ := http.NewRequest("GET", ts.url+"?EIO=4&transport=polling", nil)
		req.Header.Set("Origin", "http://example.com")
		res := mustDo(t, req)
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("allow-origin %q", got)
		}
	})
	t.Run("listed origin with credentials", func(t *testing.T) {
		ts := startServer(t, Config{CORS: CORS{Origins: []string{"http://a.test"}, Credentials: true}})
		req, _ := http.NewRequest("OPTIONS", ts.url+"?EIO=4&transport=polling", nil)
		req.Header.Set("Origin", "http://a.test")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		res := mustDo(t, req)
		if res.StatusCode != 204 ||
			res.Header.Get("Access-Control-Allow-Origin") != "http://a.test" ||
			res.Header.Get("Access-Control-Allow-Credentials") != "true" ||
			res.Header.Get("Access-Control-Allow-Methods") != preflightMethods ||
			res.Header.Get("Access-Control-Allow-Headers") != "content-type" {
			t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
		}
		req, _ = http.NewRequest("GET", ts.url+"?EIO=4&transport=polling", nil)
		req.Header.Set("Origin", "http://evil.test")
		res = mustDo(t, req)
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("unlisted origin allowed: %q", got)
		}
	})
	t.Run("predicate", func(t *testing.T) {
		allow := func(r *http.Request) bool { return strings.HasSuffix(r.Header.Get("Origin"), ".a.test") }
		ts := startServer(t, Config{CORS: CORS{AllowOrigin: allow, Credentials: true}})
		req, _ := http.NewRequest("OPTIONS", ts.url+"?EIO=4&transport=polling", nil)
		req.Header.Set("Origin", "http://app.a.test")
		req.Header.Set("Access-Control-Request-Method", "POST")
		res := mustDo(t, req)
		if res.StatusCode != 204 ||
			res.Header.Get("Access-Control-Allow-Origin") != "http://app.a.test" ||
			res.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
		}
		req, _ = http.NewRequest("OPTIONS", ts.url+"?EIO=4&transport=polling", nil)
		req.Header.Set("Origin", "http://evil.test")
		req.Header.Set("Access-Control-Request-Method", "POST")
		res = mustDo(t, req)
		if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight of a refused origin: %d %v", res.StatusCode, res.Header)
		}
		req, _ = http.NewRequest("GET", ts.url+"?EIO=4&transport=polling", nil)
		req.Header.Set("Origin", "http://app.a.test")
		res = mustDo(t, req)
		if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "http://app.a.test" {
			t.Errorf("handshake: %d %v", res.StatusCode, res.Header)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		ts := startServer(t, Config{})
		req, _ := http.NewRequest("OPTIONS", ts.url+"?EIO=4&transport=polling", nil)
		req.Header.Set("Origin", "http://a.test")
		res := mustDo(t, req)
		if res.StatusCode != 400 || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("got %d %v", res.StatusCode, res.Header)
		}
	})
}

func mustDo(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return res
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{PingInterval: -1},
		{PingTimeout: -1},
		{MaxPayload: -5},
		{Transports: []string{"carrier-pigeon"}},
		{QueuePackets: -1},
		{DrainPeriod: -1},
	}
	for _, c := range bad {
		if _, err := NewServer(c, &echo{}); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := NewServer(Config{}, nil); err == nil {
		t.Error("nil handler accepted")
	}
}

// TestRequestRecord: a session keeps the request's headers but the
// handshake's, each name's values in order, its query and the peer's
// address, and gives them back as a RequestInfo.
func TestRequestRecord(t *testing.T) {
	r := httptest.NewRequest("GET", "/engine.io/?EIO=4&transport=websocket&user=u%201&tag=a&tag=b", nil)
	r.RemoteAddr = "127.0.0.9:5000"
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Key", "k")
	r.Header.Add("X-Forwarded-For", "10.0.0.1")
	r.Header.Add("X-Forwarded-For", "10.0.0.2")
	r.Header.Set("Authorization", "Bearer t")
	got := recordRequest(r).info()
	want := http.Header{"X-Forwarded-For": {"10.0.0.1", "10.0.0.2"}, "Authorization": {"Bearer t"}}
	if !reflect.DeepEqual(got.Header, want) {
		t.Errorf("headers %v, want %v", got.Header, want)
	}
	if q := got.Query; q.Get("user") != "u 1" || !reflect.DeepEqual(q["tag"], []string{"a", "b"}) || q.Get("EIO") != "4" {
		t.Errorf("query %v", q)
	}
	if got.RemoteAddr != "127.0.0.9:5000" {
		t.Errorf("remote address %q", got.RemoteAddr)
	}
}
