//go:build race

package testenv

// Race reports whether the race detector is on. Under it sync.Pool drops
// some of what it is given, on purpose, so a test that counts allocations
// through a pool skips.
const Race = true
