package admin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxStreamEvent bounds one event read by EventReader (its data lines
// together); a longer one fails the read with ErrEventTooLarge.
const MaxStreamEvent = 1 << 20

// ErrEventTooLarge is returned by EventReader.Next for an event or line
// over MaxStreamEvent.
var ErrEventTooLarge = errors.New("admin: event stream: event too large")

// StreamEvent is one Server-Sent Event as read by a client.
type StreamEvent struct {
	Name string // "message" when the event had no event: field
	ID   string
	Data []byte
}

// EventReader reads Server-Sent Events (the text/event-stream format) as
// GET /api/v1/events writes them: the client side, for the CLI and tests.
// Comments (heartbeats) and events without data are skipped, as the
// format says.
type EventReader struct {
	sc *bufio.Scanner
}

// NewEventReader reads events from r.
func NewEventReader(r io.Reader) *EventReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxStreamEvent+64)
	sc.Split(scanLines)
	return &EventReader{sc: sc}
}

// Next returns the next event, or io.EOF at the end of the stream
// (io.ErrUnexpectedEOF when it ends inside an event).
func (er *EventReader) Next() (StreamEvent, error) {
	var ev StreamEvent
	var data bytes.Buffer
	started, hasData := false, false
	for er.sc.Scan() {
		line := er.sc.Bytes()
		if len(line) == 0 {
			if hasData {
				if ev.Name == "" {
					ev.Name = "message"
				}
				ev.Data = bytes.Clone(data.Bytes())
				return ev, nil
			}
			ev, started = StreamEvent{}, false
			continue
		}
		started = true
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			ev.Name = string(value)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				ev.ID = string(value)
			}
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			hasData = true
			if data.Len()+len(value) > MaxStreamEvent {
				return StreamEvent{}, ErrEventTooLarge
			}
			data.Write(value)
		}
		// retry: and unknown fields are ignored.
	}
	if err := er.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return StreamEvent{}, ErrEventTooLarge
		}
		return StreamEvent{}, fmt.Errorf("admin: event stream: %w", err)
	}
	if started {
		return StreamEvent{}, io.ErrUnexpectedEOF
	}
	return StreamEvent{}, io.EOF
}

// scanLines splits at "\r\n", "\n" or a lone "\r", the three line ends
// of the format.
func scanLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		if i+1 < len(data) {
			if data[i+1] == '\n' {
				return i + 2, data[:i], nil
			}
			return i + 1, data[:i], nil
		}
		if atEOF {
			return i + 1, data[:i], nil
		}
		return 0, nil, nil // a "\r" at the end: is a "\n" next?
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}
