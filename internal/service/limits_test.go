package service

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLimitsDefaultsAndValidate(t *testing.T) {
	d := Limits{}.WithDefaults()
	if d.MaxMessageBytes != DefaultMaxMessageBytes || d.MaxSubscriptions != DefaultMaxSubscriptions ||
		d.OutboundMessages != DefaultOutboundMessages || d.OutboundBytes != DefaultOutboundBytes ||
		d.WriteTimeout != DefaultWriteTimeout || d.DrainPeriod != DefaultDrainPeriod {
		t.Fatalf("defaults %+v", d)
	}
	if err := (Limits{}).Validate(); err != nil {
		t.Fatalf("zero Limits: %v", err)
	}
	if got := (Limits{MaxSubscriptions: 3}).WithDefaults().MaxSubscriptions; got != 3 {
		t.Fatalf("WithDefaults overwrote a set field: %d", got)
	}
	bad := []struct {
		l     Limits
		field string
	}{
		{Limits{MaxMessageBytes: -1}, "MaxMessageBytes"},
		{Limits{MaxSubscriptions: -1}, "MaxSubscriptions"},
		{Limits{OutboundMessages: -1}, "OutboundMessages"},
		{Limits{OutboundBytes: -1}, "OutboundBytes"},
		{Limits{WriteTimeout: -time.Second}, "WriteTimeout"},
		{Limits{DrainPeriod: -time.Second}, "DrainPeriod"},
		{Limits{MaxMessageBytes: 8 << 20}, "OutboundBytes"}, // above the default queue bytes
		{Limits{OutboundBytes: 1024, MaxMessageBytes: 2048}, "OutboundBytes"},
	}
	for _, b := range bad {
		err := b.l.Validate()
		if !errors.Is(err, ErrInvalidLimits) || !strings.Contains(err.Error(), b.field) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidLimits naming %s", b.l, err, b.field)
		}
	}
}
