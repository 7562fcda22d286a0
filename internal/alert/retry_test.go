package alert

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"
)

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

var now = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{" 0 ", 0, true},
		{"99999999999999999999999", retryAfterMax, true},
		{"86401", retryAfterMax, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Tuesday, 04-Mar-25 05:06:17 GMT", 10 * time.Second, true}, // RFC 850
		{"", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
	}
	for _, c := range cases {
		got, ok := parseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994", "18446744073709551616", "", "-1", " 7 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, now)
		if d < 0 || d > retryAfterMax || (!ok && d != 0) {
			t.Fatalf("parseRetryAfter(%q) = %v, %v", s, d, ok)
		}
	})
}

func TestRetryWait(t *testing.T) {
	d := &Dispatcher{backoff: 100 * time.Millisecond, maxBackoff: time.Second}
	for attempt, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 80: time.Second} {
		for range 20 {
			w, ok := d.retryWait(io.ErrUnexpectedEOF, attempt)
			if !ok || w < base/2 || w > base {
				t.Fatalf("attempt %d: wait %v (%v), want in [%v, %v]", attempt, w, ok, base/2, base)
			}
		}
	}
	big := &Dispatcher{backoff: time.Hour, maxBackoff: 2 * time.Hour}
	if w, ok := big.retryWait(io.ErrUnexpectedEOF, 60); !ok || w < time.Hour || w > 2*time.Hour {
		t.Errorf("long backoff at attempt 60: %v, want the 2h cap with jitter", w)
	}
	if _, ok := d.retryWait(&StatusError{Code: 404}, 1); ok {
		t.Error("404 retried")
	}
	if w, ok := d.retryWait(&StatusError{Code: 429, RetryAfter: 300 * time.Millisecond}, 1); !ok || w != 300*time.Millisecond {
		t.Errorf("429 with Retry-After: %v, %v", w, ok)
	}
	if w, ok := d.retryWait(&StatusError{Code: 503, RetryAfter: time.Hour}, 1); !ok || w != time.Second {
		t.Errorf("503 with long Retry-After: %v, %v", w, ok)
	}
	if _, ok := d.retryWait(errRequest, 1); ok {
		t.Error("unbuildable request retried")
	}
}
