package gateway

import "sync"

// Retiring an old attachment after a move (wait for its requests in
// flight, then close it or park it as a standby), and closing standbys no
// longer wanted, run in the background:
// a move's pacing slot frees as soon as the session is on its new
// backend, instead of after the old backend has answered the close. The
// queue and the workers are bounded; when the queue is full, or the
// gateway is closing, a move retires its old attachment itself. Workers
// start on demand and end when the queue is empty.
//
// An unpaced weight change (an emergency rollback) holds the retirements
// until its moves are done: closing thousands of connections costs the
// gateway about as much as the moves themselves (a close handshake and a
// close(2) each), and the old backend's channel messages to the sessions
// that left are merely dropped meanwhile (their custom events reach the
// clients until the drain, as after any move). A held queue that reaches half its bound
// runs retirements until it is back under half; workers busy when the
// hold starts finish what they run and take nothing more.
const (
	retireWorkers = 256
	retireQueue   = 1 << 14
)

type retirer struct {
	mu      sync.Mutex
	queue   []func()
	workers int
	held    int // holds in force (hold, release)
	closed  bool
	wg      sync.WaitGroup
}

// run queues retire, or runs it now when the queue is full or closed.
func (r *retirer) run(retire func()) {
	r.mu.Lock()
	if r.closed || len(r.queue) >= retireQueue {
		r.mu.Unlock()
		retire()
		return
	}
	r.queue = append(r.queue, retire)
	if !r.heldLocked() {
		r.startLocked()
	}
	r.mu.Unlock()
}

// hold defers the queued retirements until the matching release.
func (r *retirer) hold() {
	r.mu.Lock()
	r.held++
	r.mu.Unlock()
}

func (r *retirer) release() {
	r.mu.Lock()
	r.held--
	if r.held == 0 {
		r.startLocked()
	}
	r.mu.Unlock()
}

// heldLocked reports whether the queue waits: held, not closing, and
// under half its bound. r.mu is held.
func (r *retirer) heldLocked() bool {
	return r.held > 0 && !r.closed && len(r.queue) < retireQueue/2
}

// startLocked starts workers for the queue, up to retireWorkers. r.mu is
// held.
func (r *retirer) startLocked() {
	for r.workers < min(retireWorkers, len(r.queue)) {
		r.workers++
		r.wg.Add(1)
		go r.work()
	}
}

func (r *retirer) work() {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		if len(r.queue) == 0 || r.heldLocked() {
			r.workers--
			r.mu.Unlock()
			return
		}
		f := r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		r.mu.Unlock()
		f()
	}
}

// close stops taking work, runs what is queued (holds or not) and waits
// for it.
func (r *retirer) close() {
	r.mu.Lock()
	r.closed = true
	r.startLocked()
	r.mu.Unlock()
	r.wg.Wait()
}
