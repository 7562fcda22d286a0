package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/baton-rt/baton/internal/admin"
)

// FuzzWeightArg: the weight argument of `baton weight set|prepare` becomes
// a JSON body {"weight": N} that encoding/json reads back as the number
// strconv read from it, or an error naming the argument; never a body that
// is not JSON.
func FuzzWeightArg(f *testing.F) {
	for _, s := range []string{"25", "25%", "12.5", "0.01%", "100", "0", "-5", "1e2", "0x1p-2", "1_000", "NaN", "Inf", "+Inf%", "1e400", "half", "25%%", " 25", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		body, err := weightBody(arg)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(arg)) {
				t.Fatalf("weightBody(%q): error %q does not name the argument", arg, err)
			}
			return
		}
		var v struct{ Weight *float64 }
		if json.Unmarshal(body, &v) != nil || v.Weight == nil {
			t.Fatalf("weightBody(%q) = %s: not a JSON weight", arg, body)
		}
		want, _ := strconv.ParseFloat(strings.TrimSuffix(arg, "%"), 64)
		if *v.Weight != want || math.IsNaN(want) {
			t.Fatalf("weightBody(%q) = %s, want the weight %v", arg, body, want)
		}
	})
}

// FuzzWatchStream feeds `baton rollout watch` an arbitrary event stream,
// as the admin API's /api/v1/events would send it, and draws every event
// in the three views (terminal, plain, JSON Lines). An event whose data
// does not decode ends watch with an error naming the event; nothing
// panics, each progress bar keeps its width, and each JSON line is JSON.
func FuzzWatchStream(f *testing.F) {
	for _, s := range []string{
		"event: status\ndata: {\"id\":\"r1\",\"state\":\"shifting\",\"step\":2,\"steps\":3,\"weight\":50,\"applied\":true,\"hold_until\":\"2030-01-01T00:00:00Z\",\"plan\":{\"steps\":[10,50,100],\"hold\":\"10s\"},\"history\":[{\"step\":1,\"outcome\":\"pass\"}]}\n\n",
		"event: metrics\ndata: {\"at\":\"2025-01-01T00:00:00Z\",\"sessions\":{\"blue\":-5,\"green\":6},\"backends\":{\"green\":{\"sessions\":1,\"error_rate\":1e308,\"p95_ms\":-1}},\"rollout\":{\"state\":\"paused\",\"step\":1,\"hold_left_ms\":9223372036854775807,\"plan\":{\"steps\":[5e-324,100],\"hold\":\"1ns\"}}}\n\n",
		"event: transition\ndata: {\"kind\":\"step_applied\",\"from\":\"shifting\",\"to\":\"shifting\",\"step\":1,\"weight\":10,\"verdict\":{\"step\":1,\"outcome\":\"fail\"}}\n\n",
		"event: dropped\ndata: {\"dropped\":3}\n\nevent: shutdown\ndata: {}\n\n",
		"event: status\ndata: [1]\n\n", "event: metrics\ndata: {\"rollout\":null}\n\n", "event: other\ndata: x\n\n",
		"event: status\ndata: {\"state\":\"shifting\",\"step\":-1,\"plan\":{\"steps\":[-1e308,1e308]}}\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		var tty, plain, js bytes.Buffer
		uis := []*watchUI{{out: &tty, tty: true}, {out: &plain}, {out: &js, json: true, notes: &js}}
		for _, ui := range uis {
			m := &watchModel{}
			er := admin.NewEventReader(bytes.NewReader(stream))
			for range len(stream) + 1 {
				ev, err := er.Next()
				if err != nil {
					break
				}
				_, err = m.apply(ev)
				if err == nil {
					err = ui.event(ev)
				}
				if err != nil {
					if !strings.HasPrefix(err.Error(), "admin API: unreadable "+ev.Name+" event") {
						t.Fatalf("event %q %q: error %v", ev.Name, ev.Data, err)
					}
					break
				}
				switch ev.Name {
				case admin.EventTransition:
					ui.transition(m)
				case admin.EventMetrics, admin.EventStatus:
					ui.render(m)
				}
				if ui.tty {
					for _, l := range frame(m) {
						if !strings.HasPrefix(l, "  step ") {
							continue
						}
						_, rest, _ := strings.Cut(l, "[")
						bar, _, ok := strings.Cut(rest, "]")
						if n := utf8.RuneCountInString(bar); !ok || n != barWidth {
							t.Fatalf("bar of %d cells: %q", n, l)
						}
					}
				}
			}
		}
		for line := range bytes.Lines(js.Bytes()) {
			if !json.Valid(line) {
				t.Fatalf("watch --json printed %q", line)
			}
		}
	})
}
