package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// tsKey marks the send time inside published data, in Unix microseconds:
// 16 digits, exact in every JSON implementation (Node parses numbers as
// float64, exact only up to 2^53). The load generator is one process, so
// sender and receivers share a clock.
var tsKey = []byte(`"ts":`)

// minPayload is the size of the data JSON without padding: {"ts":<16
// digits>,"pad":""}.
const minPayload = len(`{"ts":1234567890123456,"pad":""}`)

// publisher posts messages to the service's HTTP publish endpoint over a
// small pool of keep-alive connections.
type publisher struct {
	http   *http.Client
	url    string
	prefix []byte // {"channel":"C","data":{"ts":
	suffix []byte // ,"pad":"xxx"}}
}

func newPublisher(addr, channel string, payloadSize, conns int) *publisher {
	pad := strings.Repeat("x", payloadSize-minPayload)
	prefix := append([]byte(`{"channel":`), strconv.Quote(channel)...)
	prefix = append(prefix, `,"data":{"ts":`...)
	return &publisher{
		http: &http.Client{Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			Proxy:               nil,
		}},
		url:    "http://" + addr + "/api/v1/publish",
		prefix: prefix,
		suffix: []byte(`,"pad":"` + pad + `"}}`),
	}
}

// body is one publish request; the timestamp is taken as late as possible.
func (p *publisher) body(now time.Time) []byte {
	b := make([]byte, 0, len(p.prefix)+16+len(p.suffix))
	b = append(b, p.prefix...)
	// 16 digits until the year 2286, so every message has the same size.
	b = strconv.AppendInt(b, now.UnixMicro(), 10)
	return append(b, p.suffix...)
}

// publish sends one message and waits for the service's {"seq":N}.
func (p *publisher) publish(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, ioTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.body(time.Now())))
	if err != nil {
		return fmt.Errorf("build publish request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return fmt.Errorf("read publish reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(reply, []byte(`"seq"`)) {
		return fmt.Errorf("%w: publish answered %d %.80q", ErrPublish, resp.StatusCode, reply)
	}
	return nil
}

func (p *publisher) close() { p.http.CloseIdleConnections() }
