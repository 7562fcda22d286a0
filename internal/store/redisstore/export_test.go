package redisstore

import "testing"

// SetFencedWriteHook makes h run after each fenced write's lease check,
// until t ends.
func SetFencedWriteHook(t *testing.T, h func()) {
	testHookFencedWrite = h
	t.Cleanup(func() { testHookFencedWrite = nil })
}
