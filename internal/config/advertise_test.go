package config

import (
	"errors"
	"strings"
	"testing"
)

// admin.advertise_url is the admin API's URL that the other gateways
// sharing a Redis store hand to operators: it must be one the CLI's
// --admin takes as it is, and must not break the lease owner's name it
// is written into (a space there splits it, as does a password shown to
// every gateway's operators).
func TestAdvertiseURLValidated(t *testing.T) {
	withURL := func(u string) string {
		return strings.Replace(minimal, "  token: change-me\n", "  token: change-me\n  advertise_url: '"+u+"'\n", 1)
	}
	for _, u := range []string{"https://gw-2.internal:9090", "http://10.0.0.5:9090", "http://[fd00::5]:9090", "https://gw.example/baton"} {
		c, err := Parse([]byte(withURL(u)))
		if err != nil {
			t.Errorf("%q refused: %v", u, err)
			continue
		}
		if c.Admin.AdvertiseURL != u {
			t.Errorf("%q read as %q", u, c.Admin.AdvertiseURL)
		}
	}
	for _, tc := range []struct{ url, msg string }{
		{"gw-2.internal:9090", "absolute http or https URL"},
		{"/admin", "absolute http or https URL"},
		{"ftp://gw-2:9090", "absolute http or https URL"},
		{"http://:9090", "absolute http or https URL"},
		{"HTTPS://gw-2:9090", "absolute http or https URL"},
		{"https://gw-2:9090/?x=1", "no query or fragment"},
		{"https://gw-2:9090?", "no query or fragment"},
		{"https://gw-2:9090/#top", "no query or fragment"},
		{"https://ops:pw@gw-2:9090", "user or password"},
		{"https://gw-2:9090/a b", "whitespace"},
	} {
		_, err := Parse([]byte(withURL(tc.url)))
		if !errors.Is(err, ErrInvalid) || !hasField(err, "admin.advertise_url") {
			t.Errorf("%q: want a FieldError for admin.advertise_url, got %v", tc.url, err)
			continue
		}
		if !strings.Contains(err.Error(), "admin.advertise_url: ") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: message %q lacks %q", tc.url, err, tc.msg)
		}
	}
}
