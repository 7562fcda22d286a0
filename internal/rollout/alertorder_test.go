package rollout

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/alert"
)

// stallHandler is a log handler that holds the first record with message
// msg until release is closed, after closing entered: a log write that
// stalls (a full stderr pipe) between a transition and its alert.
type stallHandler struct {
	msg     string
	once    *sync.Once
	entered chan struct{}
	release chan struct{}
}

func (h stallHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h stallHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h stallHandler) WithGroup(string) slog.Handler            { return h }
func (h stallHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() {
			close(h.entered)
			<-h.release
		})
	}
	return nil
}

// notified passes events to a Notifier and says when one of kind k has
// been handed over.
type notified struct {
	Notifier
	k    alert.Kind
	once sync.Once
	done chan struct{}
}

func (n *notified) Notify(e alert.Event) error {
	err := n.Notifier.Notify(e)
	if e.Kind == n.k {
		n.once.Do(func() { close(n.done) })
	}
	return err
}

// An abort and an emergency rollback that follows it at once reach
// PagerDuty in that order: the abort's resolve must not land after the
// emergency's trigger and close the incident while the emergency
// rollback still runs.
func TestAbortThenEmergencyRollbackKeepsThePage(t *testing.T) {
	pd := newPagerDuty(t)
	d := pd.dispatcher(t)
	stall := stallHandler{msg: "rollout: " + string(EventAborted), once: new(sync.Once),
		entered: make(chan struct{}), release: make(chan struct{})}
	emergency := &notified{Notifier: d, k: alert.KindRollbackStarted, done: make(chan struct{})}
	h := newHarness(t, func(o *Options) {
		o.Plan.Hold = time.Hour
		o.Notifier = emergency
		o.Logger = slog.New(stall)
	})
	h.shifter.setBlock(0, true) // the emergency rollback's moves never end
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitApplied(h.c, 1)

	aborted := make(chan error, 1)
	go func() {
		_, err := h.c.Abort(ctx)
		aborted <- err
	}()
	<-stall.entered // the abort is applied; its log line and alert are on their way
	rolled := make(chan error, 1)
	go func() {
		_, err := h.c.EmergencyRollback(ctx)
		rolled <- err
	}()
	// Give the emergency rollback the chance to alert first.
	select {
	case <-emergency.done:
	case <-time.After(200 * time.Millisecond):
	}
	close(stall.release)
	if err := <-aborted; err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := <-rolled; err != nil {
		t.Fatalf("EmergencyRollback: %v", err)
	}
	h.waitPhase(h.c, RollingBack)
	<-emergency.done

	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.Close(cctx); err != nil { // delivers what is queued
		t.Fatal(err)
	}
	got := pd.got()
	if len(got) == 0 || got[len(got)-1] != "trigger" {
		t.Errorf("PagerDuty got %v while the emergency rollback runs: its incident was resolved by the abort before it", got)
	}
}
