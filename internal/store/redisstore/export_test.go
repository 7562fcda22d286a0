package redisstore

import "testing"

// SetRenewHook makes h run before each renewal of a lease on key, until t ends.
func SetRenewHook(t *testing.T, key string, h func()) {
	testHookRenew = func(k string) {
		if k == key {
			h()
		}
	}
	t.Cleanup(func() { testHookRenew = nil })
}

// SetFencedWriteHook makes h run after each fenced write's lease check,
// until t ends.
func SetFencedWriteHook(t *testing.T, h func()) {
	testHookFencedWrite = h
	t.Cleanup(func() { testHookFencedWrite = nil })
}
