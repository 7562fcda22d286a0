package gwbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/baton-rt/baton/internal/loadgen/drive"
)

// minPayload is the data JSON without padding: {"ts":<16 digits>,"pad":""}.
const minPayload = len(`{"ts":1234567890123456,"pad":""}`)

// publisher posts messages to the backend's HTTP publish endpoint. The data
// carries its send time in Unix µs: the driver is one process, so sender
// and receivers share a clock.
type publisher struct {
	http *http.Client
	url  string
	pad  string
}

func newPublisher(url string, payload, conns int) *publisher {
	return &publisher{
		http: &http.Client{Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			Proxy:               nil,
		}},
		url: url,
		pad: strings.Repeat("x", payload-minPayload),
	}
}

// data is the payload {"ts":T,"pad":"..."}, stamped now.
func (p *publisher) data(b []byte) []byte {
	b = append(b, `{"ts":`...)
	b = strconv.AppendInt(b, time.Now().UnixMicro(), 10)
	b = append(b, `,"pad":"`...)
	b = append(b, p.pad...)
	return append(b, `"}`...)
}

// publish sends one message to channel and returns its seq.
func (p *publisher) publish(ctx context.Context, channel string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, ioTimeout)
	defer cancel()
	b := append([]byte(`{"channel":`), strconv.Quote(channel)...)
	b = append(b, `,"data":`...)
	b = append(p.data(b), '}')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("build publish: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("publish: %w", err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return 0, fmt.Errorf("read publish reply: %w", err)
	}
	seq, ok := drive.IntAfter(reply, keySeq)
	if resp.StatusCode != http.StatusOK || !ok {
		return 0, fmt.Errorf("%w: %d %.80q", ErrPublish, resp.StatusCode, reply)
	}
	return seq, nil
}

func (p *publisher) close() { p.http.CloseIdleConnections() }

// publishFrame is the client's publish request of about size bytes in all,
// with the send time in its data.
func (c *client) publishFrame(id int64, channel string, size int) []byte {
	b, end := c.requestHead(make([]byte, 0, size+16), "publish", id, channel)
	return publishTail(b, size, `"}`+end)
}

// publishTail appends the data of a publish request whose head (up to the
// channel) is b, padded so that the request is about size bytes with
// end, the closing bytes.
func publishTail(b []byte, size int, end string) []byte {
	b = append(b, `,"data":{"ts":`...)
	b = strconv.AppendInt(b, time.Now().UnixMicro(), 10)
	b = append(b, `,"pad":"`...)
	if n := size - len(b) - len(end); n > 0 {
		b = append(b, strings.Repeat("x", n)...)
	}
	return append(b, end...)
}
