package gwbench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Stopping the steady publisher ends its schedule, not the publishes in
// flight: their answers come and count, so every message the backend took
// has its seq in final, and a client that missed it shows a loss. (Cut by
// a cancel, they were in neither final nor published, and the loss of
// those messages could not be seen.)
func TestSteadyStopCountsThePublishesInFlight(t *testing.T) {
	var (
		mu  sync.Mutex
		seq int64
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seq++
		n := seq
		mu.Unlock()
		time.Sleep(150 * time.Millisecond) // the answer is on its way when the driver stops
		_, _ = w.Write([]byte(`{"ok":true,"seq":` + strconv.FormatInt(n, 10) + `}`))
	}))
	defer srv.Close()

	p := newSteady(srv.URL, 100, []string{"c"}, 50)
	stop := p.start(context.Background())
	time.Sleep(300 * time.Millisecond)
	stop()
	mu.Lock()
	backend := seq
	mu.Unlock()
	if final := p.final[0].Load(); final != backend || p.published.Load() != backend {
		t.Fatalf("the backend took seqs 1..%d; the driver knows of %d (final seq %d)", backend, p.published.Load(), final)
	}

	// A client that got all but the last shows one loss.
	c := &client{sink: &sink{}}
	c.tr.last, c.tr.got = backend-1, backend-1
	st, err := p.check(context.Background(), []*client{c}, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if st.lost != 1 {
		t.Errorf("lost %d, want 1", st.lost)
	}
}
