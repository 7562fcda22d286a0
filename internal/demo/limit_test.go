package demo

import (
	"context"
	"log/slog"
	"testing"

	"github.com/baton-rt/baton/internal/service"
)

// The demo's gateway knows its services' message limit, so that it
// refuses a client's frame over it rather than forward it and have the
// service end the session's connection (docs/config.md,
// backends.<color>.max_message_bytes).
func TestDemoGatewayHasTheServicesLimit(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	be, err := startBackends(nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer be.close(context.Background())
	cfg := Config{}
	cfg.setDefaults()
	a, err := buildApp(context.Background(), &cfg, be, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	bs := a.Config().Backends
	if bs.Blue.MaxMessageBytes != service.DefaultMaxMessageBytes || bs.Green.MaxMessageBytes != service.DefaultMaxMessageBytes {
		t.Errorf("backends' max_message_bytes: blue %d, green %d; want the services' %d",
			bs.Blue.MaxMessageBytes, bs.Green.MaxMessageBytes, service.DefaultMaxMessageBytes)
	}
}
