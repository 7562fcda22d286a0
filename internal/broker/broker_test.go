package broker_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/broker"
)

func TestHistoryGoneErrorMatches(t *testing.T) {
	var err error = &broker.HistoryGoneError{Channel: "c", Since: 3, Oldest: 10, Epoch: "e"}
	err = fmt.Errorf("reading: %w", err)
	if !errors.Is(err, broker.ErrHistoryGone) {
		t.Fatal("errors.Is(HistoryGoneError, ErrHistoryGone) = false")
	}
	if errors.Is(err, broker.ErrClosed) {
		t.Fatal("HistoryGoneError matches ErrClosed")
	}
	var gone *broker.HistoryGoneError
	if !errors.As(err, &gone) || gone.Oldest != 10 || gone.Since != 3 {
		t.Fatalf("errors.As = %+v", gone)
	}
	if msg := err.Error(); !strings.Contains(msg, `"c"`) || !strings.Contains(msg, "10") {
		t.Fatalf("message %q lacks the channel or the oldest seq", msg)
	}
}

func TestValidChannel(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"", false},
		{"a", true},
		{strings.Repeat("x", broker.MaxChannelLen), true},
		{strings.Repeat("x", broker.MaxChannelLen+1), false},
		{"room:{1}/*\x00", true},
	} {
		err := broker.ValidChannel(tc.name)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, broker.ErrInvalidChannel)) {
			t.Errorf("ValidChannel(len %d) = %v, want ok=%v", len(tc.name), err, tc.ok)
		}
	}
}
