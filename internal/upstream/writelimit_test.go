package upstream_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/service"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// TestWriteLimitIsTheServicesLimit: a connection bounded by the reference
// services' own message limit (their default, 64 KiB) sends a publish
// whose frame is exactly that long, which the service takes, and refuses
// one a byte longer with ErrMessageTooLarge, without sending it: the
// connection goes on. Sent all the same (no bound), that frame ends the
// connection: the bound is the service's, to the byte.
func TestWriteLimitIsTheServicesLimit(t *testing.T) {
	const limit = service.DefaultMaxMessageBytes
	// frame is the first publish's frame on a fresh connection (legacy
	// request id 1, Socket.IO ack id 0: the refused one's, 2 and 1, are as
	// long) with data of n bytes.
	frames := map[string]func(n int) int{
		"legacy": func(n int) int {
			return len(legacy.Append(nil, legacy.Frame{Type: legacy.TypePublish, ID: 1, Channel: "c", Data: jsonString(n)}))
		},
		"socketio": func(n int) int {
			return len(`420["publish",{"channel":"c","data":` + string(jsonString(n)) + `}]`)
		},
	}
	for _, tc := range backends {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t, 20*time.Second)
			be := tc.start(t, newBroker(t))
			frame := frames[tc.name]
			n := limit - frame(2) + 2
			if frame(n) != limit {
				t.Fatalf("frame of %d bytes, want %d", frame(n), limit)
			}
			dial := func(maxWrite int) (upstream.Conn, *recorder) {
				cfg := be.Config()
				cfg.MaxMessageBytes = maxWrite
				d, err := upstream.NewDialer(cfg, 0)
				if err != nil {
					t.Fatal(err)
				}
				rec := newRecorder()
				c, err := d.Dial(ctx, rec)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
				return c, rec
			}

			c, _ := dial(limit)
			if _, err := c.Publish(ctx, "c", jsonString(n)); err != nil {
				t.Fatalf("publish in a frame of %d bytes (the limit): %v", limit, err)
			}
			_, err := c.Publish(ctx, "c", jsonString(n+1))
			if !errors.Is(err, upstream.ErrMessageTooLarge) {
				t.Fatalf("publish in a frame of %d bytes: %v, want %v", limit+1, err, upstream.ErrMessageTooLarge)
			}
			if !strings.Contains(err.Error(), "65537 bytes, over its limit of 65536") {
				t.Errorf("error %q does not say the sizes", err)
			}
			if err := c.PublishAsync(ctx, "c", jsonString(n+1), func(uint64, error) { t.Error("reply to a publish not sent") }); !errors.Is(err, upstream.ErrMessageTooLarge) {
				t.Fatalf("PublishAsync in a frame over the limit: %v, want %v", err, upstream.ErrMessageTooLarge)
			}
			if err := c.Emit(ctx, "shout", [][]byte{jsonString(limit)}); !errors.Is(err, upstream.ErrMessageTooLarge) {
				t.Fatalf("Emit over the limit: %v, want %v", err, upstream.ErrMessageTooLarge)
			}
			if _, err := c.Request(ctx, "shout", [][]byte{jsonString(limit)}); !errors.Is(err, upstream.ErrMessageTooLarge) {
				t.Fatalf("Request over the limit: %v, want %v", err, upstream.ErrMessageTooLarge)
			}
			if _, err := c.Publish(ctx, "c", []byte(`"after"`)); err != nil {
				t.Fatalf("publish after the refused ones: %v", err)
			}

			// Unbounded, the service ends the connection on it.
			u, rec := dial(0)
			if _, err := u.Publish(ctx, "c", jsonString(n+1)); err == nil {
				t.Fatalf("the service took a frame of %d bytes: its limit is not %d", limit+1, limit)
			}
			rec.waitFor(t, "the connection's end", func(_ []upstream.Event, closed bool) bool { return closed })
		})
	}
}

// jsonString is a JSON string of n bytes, quotes included (n >= 2).
func jsonString(n int) []byte {
	return []byte(`"` + strings.Repeat("x", n-2) + `"`)
}
