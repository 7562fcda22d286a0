package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/baton-rt/baton/internal/sleep"
)

// StatusError is a webhook's answer other than 2xx.
type StatusError struct {
	Code int
	// RetryAfter is the wait the receiver asked for (Retry-After header);
	// zero when it asked for none.
	RetryAfter time.Duration
	// Body is the start of the response body (Slack explains itself there).
	Body string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("alert: webhook answered %d %s", e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Retryable reports whether the same request may succeed later: on 429 and
// on 5xx, as PagerDuty's and Slack's documentation advise, and on 408 (the
// receiver's own timeout). Any other status says the request itself is
// wrong and is not retried.
func (e *StatusError) Retryable() bool {
	return e.Throttled() || e.Code == http.StatusRequestTimeout || e.Code >= 500
}

// Throttled reports a 429 Too Many Requests: the receiver is well and asks
// the sender to slow down, for as long as its rate limit lasts.
func (e *StatusError) Throttled() bool { return e.Code == http.StatusTooManyRequests }

// errRequest marks a request that could not even be built: retrying cannot
// help.
var errRequest = errors.New("alert: cannot build request")

const (
	bodyLogMax    = 256     // response bytes kept for the log
	bodyDrain     = 4 << 10 // response bytes read so the connection is reused
	retryAfterMax = 24 * time.Hour
)

// deliver posts one event to its webhook, retrying as configured: a
// failure (network error, timeout, 5xx, 408) uses up one of the retries,
// and once they are used up is still tried again until the outage timeout
// after the first attempt (not an untrusted certificate), so a page outlasts a receiver down for minutes; a
// throttled attempt (429) does not use up a retry, and is tried again until
// the throttle timeout after the first attempt. Events queued behind wait
// meanwhile, so the receiver gets them in order; their queue stays bounded
// (Notify drops its oldest) and other webhooks, with their own workers, are
// not held up.
func (d *Dispatcher) deliver(s *sink, it item) {
	log := d.log.With("webhook", s.name, "kind", it.kind, "rollout", it.rolloutID)
	start := time.Now()
	failures := 0
	for attempt := 1; ; attempt++ {
		err := d.post(s, it.body)
		if err == nil {
			d.sent.Add(1)
			log.Debug("alert sent", "attempts", attempt)
			return
		}
		wait, retry := d.retryWait(err, attempt)
		var more bool
		if se, ok := errors.AsType[*StatusError](err); ok && se.Throttled() && d.attempts > 1 {
			more = time.Since(start)+wait <= d.throttled
		} else {
			failures++
			more = failures < d.attempts ||
				(d.attempts > 1 && !untrusted(err) && time.Since(start)+wait <= d.outage)
		}
		if !retry || !more || d.ctx.Err() != nil {
			d.failed.Add(1)
			log.Warn("alert not delivered", "attempts", attempt, "retryable", retry, "for", time.Since(start), "error", err)
			return
		}
		d.retried.Add(1)
		log.Info("alert delivery failed, retrying", "attempt", attempt, "wait", wait, "error", err)
		if sleep.For(d.ctx, wait) != nil {
			d.failed.Add(1)
			log.Warn("alert not delivered: dispatcher closed", "attempts", attempt, "error", err)
			return
		}
	}
}

// untrusted reports a receiver whose certificate failed verification. That
// is the set-up's mistake, not an outage: it uses up the retries, which
// cover a certificate being replaced, but is not tried on through the
// outage timeout while the events queued behind it wait.
func untrusted(err error) bool {
	_, ok := errors.AsType[*tls.CertificateVerificationError](err)
	return ok
}

// post makes one attempt, bounded by the per-attempt timeout.
func (d *Dispatcher) post(s *sink, body []byte) error {
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", errRequest, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "baton-alert/1")
	resp, err := d.client.Do(req)
	if err != nil {
		return redact(err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, bodyLogMax))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, bodyDrain))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	se := &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(head))}
	if v := resp.Header.Get("Retry-After"); v != "" {
		se.RetryAfter, _ = parseRetryAfter(v, time.Now())
	}
	return se
}

// redact drops the URL from a client error: Slack webhook URLs are secrets
// and must not reach the logs.
func redact(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("alert: %s: %w", ue.Op, ue.Err)
	}
	return err
}

// retryWait says whether err is worth another attempt and how long to wait
// first: the receiver's Retry-After when it gave one, otherwise exponential
// backoff with jitter, both capped by MaxBackoff.
func (d *Dispatcher) retryWait(err error, attempt int) (time.Duration, bool) {
	if errors.Is(err, errRequest) {
		return 0, false
	}
	if se, ok := errors.AsType[*StatusError](err); ok {
		if !se.Retryable() {
			return 0, false
		}
		if se.RetryAfter > 0 {
			return min(se.RetryAfter, d.maxBackoff), true
		}
	}
	// Network errors and timeouts land here: retryable.
	// Double by steps rather than shift, so no backoff/attempt pair can
	// overflow into a short wait.
	b := d.backoff
	for i := 1; i < attempt && b < d.maxBackoff; i++ {
		b = min(b*2, d.maxBackoff)
	}
	b = min(b, d.maxBackoff)
	// Equal jitter: at least half the backoff, so retries still spread out
	// while webhooks failing together do not retry in step.
	half := b / 2
	return half + rand.N(b-half+1), true
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date
// (RFC 9110, section 10.2.3). The result is never negative and at most a
// day; ok is false when v is neither form.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return retryAfterMax, true
			}
			return 0, false
		}
		if n > uint64(retryAfterMax/time.Second) {
			return retryAfterMax, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), retryAfterMax), true
}
