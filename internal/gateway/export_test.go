package gateway

// RetryIdle reports whether no retry of misplaced sessions is pending or
// under way (retry.go): its goroutine has ended.
func RetryIdle(g *Gateway) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.retry.running
}
