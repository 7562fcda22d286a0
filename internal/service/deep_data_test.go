package service

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// Data nested deeper than the legacy codec can read (600 levels, 1.2 KB)
// is refused at the publish API with 400, rather than accepted and then
// fanned out to subscribers whose decoders refuse it, ending their
// connections; the subscribers carry on.
func TestPublishedDeepDataIsRefused(t *testing.T) {
	env := startLegacy(t, envOptions{})
	ctx := testenv.Context(t, 30*time.Second)
	sub := env.dial(t)
	if _, err := sub.Subscribe(ctx, "news", nil); err != nil {
		t.Fatal(err)
	}
	post := func(data string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.srv.URL+PublishPath,
			strings.NewReader(`{"channel":"news","data":`+data+`}`))
		resp, err := env.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(strings.Repeat("[", 600) + strings.Repeat("]", 600)); code != http.StatusBadRequest {
		t.Fatalf("publish of data 600 levels deep: HTTP %d, want 400", code)
	}
	if code := post(`"after"`); code != http.StatusOK {
		t.Fatalf("publish after it: HTTP %d", code)
	}
	if m := nextMessage(t, sub); string(m.Data) != `"after"` {
		t.Fatalf("subscriber got %s, want the message after the refused one", m.Data)
	}
}
