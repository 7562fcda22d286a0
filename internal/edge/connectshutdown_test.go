package edge_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/handover"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// hangingDialer is a backend whose dial never completes before its
// context ends (a blackholed address, a backend stuck in its handshake).
type hangingDialer struct{ dialing chan struct{} }

func (d hangingDialer) Dial(ctx context.Context, _ upstream.Handler) (upstream.Conn, error) {
	select {
	case d.dialing <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (hangingDialer) Protocol() config.Protocol { return config.ProtocolSocketIO }

// A connection's end reaches a Socket.IO client's CONNECT while it is
// being attached (the namespace middleware dials the backend on the
// connection's reader): the dial is canceled, and a Shutdown keeps to its
// deadline rather than waiting out the dial's own timeout.
func TestShutdownCancelsAConnectsAttach(t *testing.T) {
	d := hangingDialer{dialing: make(chan struct{}, 1)}
	table, err := router.NewTable("baton", 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Options{
		Router: router.New(table), Blue: d, Green: d,
		Handover: handover.Options{Timeout: 3 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Close(ctx)
	})
	ed, err := edge.New(edge.Options{Gateway: g, RequestTimeout: 10 * time.Second, DrainPeriod: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ed, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	ctx := testenv.Context(t, 30*time.Second)
	ws, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+edge.SocketIOPath+"?EIO=4&transport=websocket&user=u", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, b, err := ws.Read(ctx); err != nil || !strings.HasPrefix(string(b), "0{") {
		t.Fatalf("open packet %q, %v", b, err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		t.Fatal(err)
	}
	<-d.dialing // the middleware is attaching
	go func() { // the client reads, so that a close handshake can complete
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	}()

	sctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_ = ed.Shutdown(sctx)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("Shutdown with a 300ms deadline took %v: it waited for the attach of a connection it had closed", took.Round(time.Millisecond))
	}
}
