// Package router decides which backend deployment, blue or green, serves a
// user. It is pure computation over an immutable Table: no I/O, no clocks.
//
// # Buckets
//
// Every user key falls into one of Buckets (10,000) buckets:
//
//	h      = SHA-256(salt || 0x00 || userKey)      (salt and key as UTF-8 bytes)
//	bucket = uint64 big-endian(h[0:8]) mod 10000
//
// The 0x00 separator keeps (salt "ab", key "c") apart from (salt "a", key "bc").
// SHA-256 is in every language's standard library, so any other component can
// reproduce a bucket; testdata/vectors.json lists reference values. The modulo
// bias of reducing 2^64 values to 10,000 is below 10^-15 and is ignored.
//
// # Backends
//
// A user is on green when its key is in the deny list: never; else when it is
// in the allow list: always; else when bucket < weight in basis points
// (weight% × 100). Deny wins over allow, so one list entry is enough to keep
// a user away from green whatever else is configured.
//
// Because green is a prefix of the bucket range, raising the weight only ever
// adds buckets to green and lowering it only removes them: a change of weight
// moves exactly the users whose bucket lies between the old and the new
// threshold, and never the other way round (monotone). Routing depends on the
// user key alone, so every session of one user lands on the same backend.
package router

import (
	"crypto/sha256"
	"encoding/binary"
)

// Buckets is the number of buckets users are hashed into. One bucket is one
// basis point (0.01 %) of users.
const Buckets = 10000

// Bucket returns the bucket of userKey under salt, in [0, Buckets).
// See the package documentation for the exact, reproducible definition.
func Bucket(salt, userKey string) int {
	// Hash salt, separator and key in one call through a stack buffer when
	// they fit, so the common case does not allocate.
	var buf [256]byte
	var sum [sha256.Size]byte
	if n := len(salt) + 1 + len(userKey); n <= len(buf) {
		copy(buf[:], salt)
		buf[len(salt)] = 0
		copy(buf[len(salt)+1:], userKey)
		sum = sha256.Sum256(buf[:n])
	} else {
		h := sha256.New()
		h.Write([]byte(salt))
		h.Write([]byte{0})
		h.Write([]byte(userKey))
		h.Sum(sum[:0])
	}
	return int(binary.BigEndian.Uint64(sum[:8]) % Buckets)
}
