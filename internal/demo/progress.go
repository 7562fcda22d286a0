package demo

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress prints the demo's course: one line per event, and a compact
// status once a second. On a terminal the status is one line rewritten in
// place under the event lines; elsewhere every status is a plain line.
type progress struct {
	mu     sync.Mutex
	out    io.Writer
	tty    bool
	start  time.Time
	status string // the status line shown now (tty only)
}

func newProgress(out io.Writer, tty bool, start time.Time) *progress {
	if out == nil {
		out = io.Discard
	}
	return &progress{out: out, tty: tty, start: start}
}

// clearLine erases the status line of a terminal.
const clearLine = "\r\x1b[K"

// linef prints an event line, stamped with the time since the start.
func (p *progress) linef(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := fmt.Sprintf("%6.1fs  %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
	if p.tty {
		_, _ = io.WriteString(p.out, clearLine+msg+p.status)
		return
	}
	_, _ = io.WriteString(p.out, msg)
}

// statusf shows the status.
func (p *progress) statusf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := fmt.Sprintf("%6.1fs  %s", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
	if p.tty {
		p.status = s
		_, _ = io.WriteString(p.out, clearLine+s)
		return
	}
	_, _ = io.WriteString(p.out, s+"\n")
}

// done leaves the status line behind (tty) so later output starts on a
// fresh line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.status != "" {
		_, _ = io.WriteString(p.out, "\n")
		p.status = ""
	}
}
