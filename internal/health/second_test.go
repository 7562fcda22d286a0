package health

import (
	"testing"
	"time"
)

// With a clock that has no monotonic reading (a test's fake, or times
// taken apart from time.Now), a window key is the Unix second, also for a
// time before the recorder began and for fractions of a second.
func TestWindowKeyIsTheUnixSecondOfAPlainClock(t *testing.T) {
	clk := newFakeClock()
	clk.Advance(300 * time.Millisecond) // an epoch inside a second
	_, r := newMonitor(t, Config{Window: 10 * time.Second, Clock: clk})
	base := clk.Now()
	for _, d := range []time.Duration{
		0, 699 * time.Millisecond, 700 * time.Millisecond, 90 * time.Second,
		-time.Nanosecond, -300 * time.Millisecond, -301 * time.Millisecond, -5 * time.Minute,
	} {
		at := base.Add(d)
		if got, want := r.second(at), at.Unix(); got != want {
			t.Errorf("epoch%+v: key %d, Unix second %d", d, got, want)
		}
	}
}
