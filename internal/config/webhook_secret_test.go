package config

import (
	"strings"
	"testing"
)

// A Slack incoming-webhook URL is a secret (its path is the credential). A
// typo in it (here: the scheme left out) is refused without writing the
// URL into the error, which `baton gateway` prints and logs at startup. The
// alert package keeps URLs out of its errors for this reason; config does too.
func TestWebhookURLStaysOutOfItsError(t *testing.T) {
	t.Setenv("BATON_TEST_ADMIN_TOKEN", "t")
	const secret = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
	doc := tokenEnvBase + "  alerts:\n    webhooks:\n      - kind: slack\n        url: 'hooks.slack.com/services/" + secret + "'\n"
	_, err := Parse([]byte(doc))
	if err == nil {
		t.Fatal("a webhook URL without scheme was accepted")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("the validation error carries the webhook secret: %v", err)
	}
}
