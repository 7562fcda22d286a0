package gateway

import "sync"

// Retiring an old attachment after a move (wait for its requests in
// flight, then close it or park it as a standby) runs in the background:
// a move's pacing slot frees as soon as the session is on its new
// backend, instead of after the old backend has answered the close. The
// queue and the workers are bounded; when the queue is full, or the
// gateway is closing, a move retires its old attachment itself. Workers
// start on demand and end when the queue is empty.
const (
	retireWorkers = 256
	retireQueue   = 1 << 14
)

type retirer struct {
	mu      sync.Mutex
	queue   []func()
	workers int
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
	if r.workers < retireWorkers {
		r.workers++
		r.wg.Add(1)
		go r.work()
	}
	r.mu.Unlock()
}

func (r *retirer) work() {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
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

// close stops taking work and waits until the queued retirements have
// run.
func (r *retirer) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.wg.Wait()
}
