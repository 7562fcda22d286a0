package testenv

import (
	"context"

	"github.com/coder/websocket"
)

// CloseCodes reads every conn until it ends, each on a goroutine of its
// own that ctx bounds, and sends the close status each one saw (-1 for
// an end without a close frame).
func CloseCodes(ctx context.Context, conns []*websocket.Conn) <-chan websocket.StatusCode {
	codes := make(chan websocket.StatusCode, len(conns))
	for _, c := range conns {
		go func() {
			for {
				if _, _, err := c.Read(ctx); err != nil {
					codes <- websocket.CloseStatus(err)
					return
				}
			}
		}()
	}
	return codes
}
