package store

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// ConflictError is returned by CompareAndSetState when the stored version is
// not the expected one. It matches ErrConflict with errors.Is.
type ConflictError struct {
	Expected uint64
	// Actual is the version found; 0 when no state exists.
	Actual uint64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("store: version conflict: expected %d, found %d", e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Time bounds that every implementation can store: nanoseconds since 1970
// in an int64.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// ValidateEvent reports why e cannot be appended, wrapping ErrInvalid.
// A zero Time is valid: AppendEvent fills it in.
func ValidateEvent(e Event) error {
	switch {
	case e.Kind == "" || len(e.Kind) > MaxKindLen:
		return fmt.Errorf("%w: event kind length %d (want 1..%d)", ErrInvalid, len(e.Kind), MaxKindLen)
	case len(e.Data) > MaxEventDataSize:
		return fmt.Errorf("%w: event data is %d bytes (max %d)", ErrInvalid, len(e.Data), MaxEventDataSize)
	case len(e.Data) > 0 && !json.Valid(e.Data):
		return fmt.Errorf("%w: event data is not valid JSON", ErrInvalid)
	case !e.Time.IsZero() && (e.Time.Before(minTime) || e.Time.After(maxTime)):
		return fmt.Errorf("%w: event time %v out of range", ErrInvalid, e.Time)
	}
	return nil
}

// ValidateSessionID reports why id cannot name a session snapshot.
func ValidateSessionID(id string) error {
	if id == "" || len(id) > MaxSessionIDLen {
		return fmt.Errorf("%w: session id length %d (want 1..%d)", ErrInvalid, len(id), MaxSessionIDLen)
	}
	return nil
}

// ValidateBlob reports why blob cannot be stored as state or snapshot.
func ValidateBlob(blob []byte) error {
	if len(blob) > MaxBlobSize {
		return fmt.Errorf("%w: blob is %d bytes (max %d)", ErrInvalid, len(blob), MaxBlobSize)
	}
	return nil
}

// PrepareEvent validates e and returns it as it will be stored: Seq zeroed,
// a zero Time replaced by now, the time in UTC without a monotonic reading.
// Implementations call it at the start of AppendEvent.
func PrepareEvent(e Event, now func() time.Time) (Event, error) {
	if err := ValidateEvent(e); err != nil {
		return Event{}, err
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
	e.Seq = 0
	e.Time = e.Time.Round(0).UTC()
	return e, nil
}
