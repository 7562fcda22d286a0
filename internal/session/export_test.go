package session

// Inflight is a's count of requests in flight, for tests that must know a
// call has taken its attachment before they go on.
func Inflight(a *Attachment) int {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return a.inflight
}
