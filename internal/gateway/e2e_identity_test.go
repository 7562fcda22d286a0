package gateway_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestE2EMissingUser: without a user key, both protocols are refused with
// 401 before any handshake, and no session is created.
func TestE2EMissingUser(t *testing.T) {
	e := setup(t, 0)
	f := startFront(t, e, edge.Options{})
	ctx := testenv.Context(t, 60*time.Second)
	_, resp, err := websocket.Dial(ctx, "ws://"+f.edgeAddr+"/ws", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("legacy without user: %v %v", err, resp)
	}
	r, err := http.Get("http://" + f.edgeAddr + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized {
		t.Errorf("socket.io handshake without user: %d", r.StatusCode)
	}
	if st := f.edge.Stats(); st.Unauthorized != 2 || st.Accepted != 0 {
		t.Errorf("stats %+v", st)
	}
	if n := len(e.g.Sessions()); n != 0 {
		t.Errorf("%d sessions", n)
	}
}

const jwtSecret = "test-secret"

func token(t *testing.T, claims jwt.MapClaims, secret string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestE2EJWT: a good token gives the claim's user key; a bad signature,
// an expired or not-yet-valid token, a token without the claim and the
// none algorithm are refused (401, or CONNECT_ERROR via the auth payload).
func TestE2EJWT(t *testing.T) {
	e := setup(t, 0)
	f := startFront(t, e, edge.Options{Identity: config.Identity{JWT: &config.JWT{HS256Secret: jwtSecret}}})
	ctx := testenv.Context(t, 60*time.Second)
	now := time.Now()
	good := token(t, jwt.MapClaims{"sub": "alice", "exp": now.Add(time.Hour).Unix()}, jwtSecret)
	bad := map[string]string{
		"wrong secret": token(t, jwt.MapClaims{"sub": "alice"}, "other"),
		"expired":      token(t, jwt.MapClaims{"sub": "alice", "exp": now.Add(-time.Minute).Unix()}, jwtSecret),
		"not yet":      token(t, jwt.MapClaims{"sub": "alice", "nbf": now.Add(time.Hour).Unix()}, jwtSecret),
		"no claim":     token(t, jwt.MapClaims{"name": "alice"}, jwtSecret),
		"garbage":      "not.a.jwt",
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "alice"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	bad["alg none"] = none

	// Legacy: Authorization header and ?token=.
	h := http.Header{"Authorization": {"Bearer " + good}}
	lc, err := legacyclient.Dial(ctx, "ws://"+f.edgeAddr+"/ws", legacyclient.Options{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lc.Close() }()
	if in, ok := e.g.SessionInfo(lc.Session()); !ok || in.User != "alice" {
		t.Errorf("session %+v", in)
	}
	lc2, err := legacyclient.Dial(ctx, "ws://"+f.edgeAddr+"/ws?token="+good, legacyclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = lc2.Close()
	for name, tok := range bad {
		_, resp, err := websocket.Dial(ctx, "ws://"+f.edgeAddr+"/ws?token="+tok, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("legacy, %s: %v", name, err)
		}
	}
	// A user query parameter is no identity when JWT is configured.
	if _, resp, err := websocket.Dial(ctx, "ws://"+f.edgeAddr+"/ws?user=alice", nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("legacy with ?user= only: %v", err)
	}

	// Socket.IO: the token in the auth payload.
	sc, err := sioclient.Dial(ctx, "http://"+f.edgeAddr+"/socket.io/", sioclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sc.Close() }()
	so, err := sc.Connect(ctx, "/", []byte(`{"token":"`+good+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if in, ok := e.g.SessionInfo(so.ID()); !ok || in.User != "alice" {
		t.Errorf("socket.io session %+v %v", in, ok)
	}
	for name, tok := range bad {
		c, err := sioclient.Dial(ctx, "http://"+f.edgeAddr+"/socket.io/", sioclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Connect(ctx, "/", []byte(`{"token":"`+tok+`"}`))
		var ce *sioclient.ConnectError
		if !errors.As(err, &ce) || !strings.HasPrefix(ce.Message, "unauthorized") {
			t.Errorf("socket.io, %s: %v", name, err)
		}
		_ = c.Close()
		// A bad token in the query is refused before the handshake.
		r, err := http.Get("http://" + f.edgeAddr + "/socket.io/?EIO=4&transport=polling&token=" + tok)
		if err != nil {
			t.Fatal(err)
		}
		_ = r.Body.Close()
		if r.StatusCode != http.StatusUnauthorized {
			t.Errorf("socket.io handshake, %s: %d", name, r.StatusCode)
		}
	}
}
