package sioclient

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

func TestPubSub(t *testing.T) {
	url := startNode(t)
	for _, tr := range []Transport{WebSocket, PollingOnly} {
		t.Run(tr.String(), func(t *testing.T) {
			ch := "news-" + tr.String()
			_, sub := dial(t, url, testOptions(t, tr))
			_, pub := dial(t, url, testOptions(t, tr))
			ctx := testenv.Context(t, 10*time.Second)
			if pos, hasPos, err := sub.SubscribeAt(ctx, ch, nil); err != nil || !hasPos || pos != 0 {
				t.Fatalf("SubscribeAt(new channel) = %d, %v, %v; want position 0", pos, hasPos, err)
			}
			for i := 1; i <= 3; i++ {
				seq, err := pub.Publish(ctx, ch, []byte(`{"n":`+strconv.Itoa(i)+`}`))
				if err != nil {
					t.Fatal(err)
				}
				if seq != uint64(i) {
					t.Fatalf("publish %d: seq %d", i, seq)
				}
			}
			for i := 1; i <= 3; i++ {
				ev := nextEvent(t, sub, "message")
				m := ev.Message
				if m == nil || m.Channel != ch || m.Seq != uint64(i) || string(m.Data) != `{"n":`+strconv.Itoa(i)+`}` {
					t.Fatalf("message %d = %+v (%s)", i, m, argsString(ev.Args))
				}
			}

			// Catch-up from seq 1: 2 and 3 are replayed.
			_, late := dial(t, url, testOptions(t, tr))
			since := uint64(1)
			if pos, hasPos, err := late.SubscribeAt(ctx, ch, &since); err != nil || !hasPos || pos != 3 {
				t.Fatalf("SubscribeAt(since 1) = %d, %v, %v; want position 3", pos, hasPos, err)
			}
			for _, want := range []uint64{2, 3} {
				if m := nextEvent(t, late, "message").Message; m == nil || m.Seq != want {
					t.Fatalf("replay: got %+v, want seq %d", m, want)
				}
			}

			// After Unsubscribe nothing more arrives from ch.
			if err := sub.Unsubscribe(ctx, ch); err != nil {
				t.Fatal(err)
			}
			if _, err := pub.Publish(ctx, ch, []byte(`"after"`)); err != nil {
				t.Fatal(err)
			}
			if err := sub.Subscribe(ctx, ch+"-other", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := pub.Publish(ctx, ch+"-other", []byte(`"other"`)); err != nil {
				t.Fatal(err)
			}
			if m := nextEvent(t, sub, "message").Message; m == nil || m.Channel != ch+"-other" {
				t.Fatalf("after unsubscribe got %+v", m)
			}

			var ae *AckError
			if err := sub.Subscribe(ctx, "", nil); !errors.As(err, &ae) || ae.Message != "channel required" {
				t.Fatalf("subscribe without channel: %v", err)
			}
			if _, err := pub.Publish(ctx, ch, []byte(`{bad`)); err == nil {
				t.Fatal("publish of invalid JSON accepted")
			}
		})
	}
}
