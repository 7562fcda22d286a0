package alert_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/baton-rt/baton/internal/alert"
	"github.com/baton-rt/baton/internal/config"
)

// The controller starts one Dispatcher from the rollout config, reports
// each transition, and closes it on shutdown with a deadline.
func ExampleDispatcher() {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	defer srv.Close()

	d, err := alert.New(config.Alerts{
		Webhooks: []config.Webhook{{Kind: config.WebhookGeneric, URL: srv.URL}},
	}, alert.Options{Source: "baton@example", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	_ = d.Notify(alert.Event{
		Kind:      alert.KindStepPassed,
		RolloutID: "r-7",
		Step:      1,
		Weight:    10,
		Message:   "gate passed",
		Time:      time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	fmt.Println(<-got)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.Close(ctx)
	fmt.Printf("%+v\n", d.Stats())
	// Output:
	// {"version":1,"kind":"step_passed","rollout_id":"r-7","step":1,"weight":10,"severity":"info","message":"gate passed","time":"2025-01-02T03:04:05Z","source":"baton@example"}
	// {Sent:1 Failed:0 Dropped:0 Retried:0}
}
