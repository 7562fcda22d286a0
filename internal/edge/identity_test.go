package edge

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/upstream"
)

func TestIdentifierHeaderBeforeQuery(t *testing.T) {
	id, err := NewIdentifier(config.Identity{Query: "user", Header: "X-User"})
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"user": {"from-query"}}
	if u, err := id.User(http.Header{"X-User": {"from-header"}}, q, ""); err != nil || u != "from-header" {
		t.Errorf("header and query: %q %v", u, err)
	}
	if u, err := id.User(http.Header{}, q, ""); err != nil || u != "from-query" {
		t.Errorf("query only: %q %v", u, err)
	}
	if _, err := id.User(http.Header{}, url.Values{}, "ignored-without-jwt"); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("nothing: %v", err)
	}
}

func TestIdentifierRS256(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "pub.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := NewIdentifier(config.Identity{JWT: &config.JWT{Claim: "uid", Query: "token", RS256PublicKeyFile: p}})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(m jwt.SigningMethod, k any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, claims).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := sign(jwt.SigningMethodRS256, key, jwt.MapClaims{"uid": "carol", "exp": time.Now().Add(time.Minute).Unix()})
	if u, err := id.User(http.Header{"Authorization": {"Bearer " + good}}, nil, ""); err != nil || u != "carol" {
		t.Errorf("good token: %q %v", u, err)
	}
	if u, err := id.User(http.Header{}, url.Values{}, good); err != nil || u != "carol" {
		t.Errorf("good token from auth: %q %v", u, err)
	}
	// An HS256 token "signed" with the public key must not pass.
	hs := sign(jwt.SigningMethodHS256, der, jwt.MapClaims{"uid": "carol"})
	if _, err := id.User(http.Header{}, url.Values{"token": {hs}}, ""); !errors.Is(err, ErrBadToken) {
		t.Errorf("HS256 with the public key: %v", err)
	}
	if _, err := id.User(http.Header{}, url.Values{}, ""); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("no token: %v", err)
	}
}

// FuzzAppendMessageEvent: the Socket.IO message packet is valid JSON after
// its type digit, and carries the channel, seq and data unchanged.
func FuzzAppendMessageEvent(f *testing.F) {
	f.Add("news", uint64(1), []byte(`{"a":1}`))
	f.Add("é\"\\\x00", uint64(1<<63), []byte(`"x"`))
	f.Add("", uint64(0), []byte(nil))
	f.Fuzz(func(t *testing.T, channel string, seq uint64, data []byte) {
		if len(data) > 0 && !json.Valid(data) {
			t.Skip()
		}
		b := appendMessageEvent(nil, upstream.Event{Channel: channel, Seq: seq, Data: data})
		var v []json.RawMessage
		if b[0] != '2' || json.Unmarshal(b[1:], &v) != nil || len(v) != 2 {
			t.Fatalf("packet %q", b)
		}
		var name string
		if json.Unmarshal(v[0], &name) != nil || name != messageEvent {
			t.Fatalf("packet %q: event %s", b, v[0])
		}
		var m struct {
			Channel string          `json:"channel"`
			Seq     uint64          `json:"seq"`
			Data    json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(v[1], &m); err != nil || m.Seq != seq {
			t.Fatalf("message %s: %v", v[1], err)
		}
		// The channel as sent (invalid UTF-8 becomes U+FFFD), and the data
		// byte for byte (none is null).
		wantData := bytes.Trim(data, " \t\r\n")
		if len(data) == 0 {
			wantData = []byte("null")
		}
		if m.Channel != string([]rune(channel)) || !bytes.Equal(m.Data, wantData) {
			t.Fatalf("message %s: channel %q data %s; want %q %s", v[1], m.Channel, m.Data, channel, wantData)
		}
	})
}
