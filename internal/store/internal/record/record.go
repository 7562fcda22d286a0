// Package record is the byte encoding of an event as boltstore and
// redisstore keep it. The seq is not part of the record: it is the key
// (bolt) or the stream entry id (Redis).
//
// Layout, version 1:
//
//	[0]      version (1)
//	[1:9]    time, nanoseconds since 1970, big-endian int64
//	[9]      length n of the kind, 1..store.MaxKindLen
//	[10:10+n] kind
//	[10+n:]  data, raw JSON or empty, byte for byte as appended
//
// The data is not re-encoded, so a payload comes back exactly as written.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/baton-rt/baton/internal/store"
)

const (
	version    = 1
	headerSize = 10
)

// ErrCorrupt matches every decoding failure.
var ErrCorrupt = errors.New("store: corrupt event record")

// Encode returns the record of e, which must have passed
// store.PrepareEvent (valid, with a time).
func Encode(e store.Event) []byte {
	b := make([]byte, headerSize, headerSize+len(e.Kind)+len(e.Data))
	b[0] = version
	binary.BigEndian.PutUint64(b[1:9], uint64(e.Time.UnixNano()))
	b[9] = byte(len(e.Kind))
	b = append(b, e.Kind...)
	return append(b, e.Data...)
}

// Decode parses a record into an event with the given seq. It never keeps a
// reference to b, so callers may reuse b (bolt's values die with their
// transaction). The event it returns passes store.ValidateEvent.
func Decode(seq uint64, b []byte) (store.Event, error) {
	if len(b) < headerSize {
		return store.Event{}, fmt.Errorf("%w: %d bytes, shorter than the header", ErrCorrupt, len(b))
	}
	if b[0] != version {
		return store.Event{}, fmt.Errorf("%w: version %d", ErrCorrupt, b[0])
	}
	n := int(b[9])
	if n == 0 || n > store.MaxKindLen || headerSize+n > len(b) {
		return store.Event{}, fmt.Errorf("%w: kind length %d in %d bytes", ErrCorrupt, n, len(b))
	}
	e := store.Event{
		Seq:  seq,
		Time: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))).UTC(),
		Kind: string(b[headerSize : headerSize+n]),
	}
	if data := b[headerSize+n:]; len(data) > 0 {
		e.Data = append([]byte(nil), data...)
	}
	if err := store.ValidateEvent(e); err != nil {
		return store.Event{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return e, nil
}
