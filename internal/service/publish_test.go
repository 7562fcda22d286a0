package service

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

func TestPublishAPI(t *testing.T) {
	env := startLegacy(t, envOptions{limits: Limits{MaxMessageBytes: 256}})
	ctx := testenv.Context(t, 30*time.Second)
	sub := env.dial(t)
	if _, err := sub.Subscribe(ctx, "news", nil); err != nil {
		t.Fatal(err)
	}
	url := env.srv.URL + PublishPath

	post := func(method, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := env.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: response %q is not JSON: %v", method, body, raw, err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
		return resp.StatusCode, out
	}

	data := `{"headline": "a\u00e9" , "n":1.0}`
	status, out := post(http.MethodPost, `{"channel":"news","data":`+data+`,"extra":true}`)
	if status != http.StatusOK || out["seq"] != 1.0 {
		t.Fatalf("good publish: %d %v", status, out)
	}
	if m := nextMessage(t, sub); m.Seq != 1 || string(m.Data) != data {
		t.Fatalf("subscriber got %+v (%s), want data byte-identical", m, m.Data)
	}
	if status, out := post(http.MethodPost, `{"channel":"news","data":null}`); status != http.StatusOK || out["seq"] != 2.0 {
		t.Fatalf("null data: %d %v", status, out)
	}

	bad := []struct {
		method, body string
		status       int
		in           string
	}{
		{http.MethodPost, `{"channel":"news"`, http.StatusBadRequest, "bad_request"},
		{http.MethodPost, `not json`, http.StatusBadRequest, "bad_request"},
		{http.MethodPost, `{"data":1}`, http.StatusBadRequest, `"channel"`},
		{http.MethodPost, `{"channel":"news"}`, http.StatusBadRequest, `"data"`},
		{http.MethodPost, `{"channel":5,"data":1}`, http.StatusBadRequest, "bad_request"},
		{http.MethodPost, `{"channel":"","data":1}`, http.StatusBadRequest, "invalid_channel"},
		{http.MethodPost, `{"channel":"news","data":1} {"again":1}`, http.StatusBadRequest, "after"},
		{http.MethodPost, `{"channel":"news","data":"` + strings.Repeat("x", 300) + `"}`, http.StatusRequestEntityTooLarge, "message_too_large"},
		{http.MethodGet, ``, http.StatusMethodNotAllowed, "POST"},
	}
	for _, b := range bad {
		status, out := post(b.method, b.body)
		msg, _ := out["error"].(string)
		if status != b.status || !strings.Contains(msg, b.in) {
			t.Errorf("%s %.60s: %d %q, want %d mentioning %q", b.method, b.body, status, msg, b.status, b.in)
		}
	}
	if st := env.l.Stats(); st.Published != 0 {
		t.Fatalf("HTTP publishes counted as WebSocket publishes: %+v", st)
	}
}
