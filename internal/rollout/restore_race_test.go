package rollout

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
)

// heldRestore holds f's moves to 0 % before they take the weight (as the
// gateway's wait for its weight lock would) until release is closed or
// their ctx ends; restoring is closed when the first one is held.
func heldRestore(f *fakeShifter) (restoring, release chan struct{}) {
	restoring, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.before = func(ctx context.Context, w router.Weight) error {
		if w != 0 {
			return nil
		}
		once.Do(func() { close(restoring) })
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			select {
			case <-release: // released first: goes on
				return nil
			default:
				return ctx.Err()
			}
		}
	}
	return restoring, release
}

// A restarted controller with no rollout active restores the stored
// weight in the background; a rollout started meanwhile calls that off
// and waits for it before its first step. The restore ran on, and one
// that took the gateway's weight after step 1 did (here: held before
// its SetWeight until step 1 was applied) left the gateway at the stored
// 0 % while the rollout went on believing it stood at step 1's 10 %.
func TestStartRightAfterARestartIsNotUndoneByTheRestore(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Plan.Hold = time.Minute })
	if err := h.c.SetWeightByHand(ctx, 0, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	_ = h.c.Close()

	restarted := newShifter()
	restoring, release := heldRestore(restarted)
	h.opts.Shifter = restarted
	c := h.open()
	<-restoring // the restore of the stored 0 % has not taken the weight yet

	if _, err := c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st := h.waitApplied(c, 1)
	close(release)
	_ = c.Close() // waits for the restore, if it still runs

	if got := restarted.Status().Weight; got != st.Weight {
		t.Fatalf("the gateway stands at %v while the rollout's step 1 is %v applied (weights set: %v)", got, st.Weight, restarted.Calls())
	}
}

// So does a weight set by hand right after the restart: the restore,
// taking the gateway's weight after it, left the gateway at the stored
// 0 % while the store said the hand-set 25 %.
func TestWeightByHandRightAfterARestartIsNotUndoneByTheRestore(t *testing.T) {
	h := newHarness(t)
	if err := h.c.SetWeightByHand(ctx, 0, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	_ = h.c.Close()

	restarted := newShifter()
	restoring, release := heldRestore(restarted)
	h.opts.Shifter = restarted
	c := h.open()
	<-restoring

	set := func(context.Context) error { _, _, err := restarted.SetWeight(ctx, 2500); return err }
	if err := c.SetWeightByHand(ctx, 2500, set); err != nil {
		t.Fatal(err)
	}
	close(release)
	_ = c.Close() // waits for the restore, if it still runs

	if got, stored := restarted.Status().Weight, c.Status().Weight; got != stored {
		t.Fatalf("the gateway stands at %v while the weight set by hand is %v (weights set: %v)", got, stored, restarted.Calls())
	}
}

// A weight set by hand that begins while a start is being stored (after
// the start found no hand-set weight in progress, before the rollout is
// active) is refused, as during the rollout. It was let through: applied
// after step 1, it left the gateway at the hand-set weight while the
// rollout believed it stood at step 1's, and the hand-set weight was
// answered as a success, though not stored.
func TestWeightByHandDuringAStartIsRefused(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Plan.Hold = time.Minute })
	inCheck, proceed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.shifter.onStatus = func() { // the start's check of the gateway's weight
		once.Do(func() {
			close(inCheck)
			<-proceed
		})
	}
	started := make(chan error, 1)
	go func() {
		_, err := h.c.Start(ctx, nil)
		started <- err
	}()
	<-inCheck

	inSet, releaseSet := make(chan struct{}), make(chan struct{})
	byHand := make(chan error, 1)
	go func() {
		byHand <- h.c.SetWeightByHand(ctx, 500, func(context.Context) error {
			close(inSet)
			<-releaseSet
			_, _, err := h.shifter.SetWeight(ctx, 500)
			return err
		})
	}()
	var err error
	select {
	case <-inSet: // let through: applied after step 1
	case err = <-byHand:
	}
	close(proceed)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	st := h.waitApplied(h.c, 1)
	close(releaseSet)
	if err == nil {
		err = <-byHand
	}
	var te *TransitionError
	if !errors.As(err, &te) || te.Op != OpSetWeight {
		t.Errorf("hand-set weight during a start: %v, want a TransitionError", err)
	}
	if got := h.shifter.Status().Weight; got != st.Weight {
		t.Fatalf("the gateway stands at %v while the rollout's step 1 is %v applied (weights set: %v)", got, st.Weight, h.shifter.Calls())
	}
}
