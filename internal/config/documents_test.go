package config

import (
	"testing"
)

// TestTrailingDocumentSeparatorAccepted: a file that ends with "---" (as
// helm, kustomize and yq often leave one), or with a "---" followed by
// nothing but blank lines and comments, holds one configuration: the
// empty documents after it are not a second one.
func TestTrailingDocumentSeparatorAccepted(t *testing.T) {
	for _, yml := range []string{
		minimal + "---\n",
		minimal + "---",
		minimal + "--- \n\n",
		minimal + "---\n---\n",
		minimal + "---\n# generated\n",
		"---\n" + minimal + "---\n",
	} {
		c, err := Parse([]byte(yml))
		if err != nil {
			t.Errorf("%q: %v", yml, err)
			continue
		}
		if c.Routing.Salt != "baton" {
			t.Errorf("%q: routing.salt %q, want the first document's", yml, c.Routing.Salt)
		}
	}
}

// TestSecondDocumentRefused: a second document with something in it is
// still refused, even after empty ones, naming the line it starts on and
// the "---" that opens it, since the gateway would otherwise ignore it.
func TestSecondDocumentRefused(t *testing.T) {
	for _, tc := range []struct{ yml, want string }{
		{minimal + "---\nrouting:\n  weight: 50\n",
			`line 15: a configuration is one YAML document, found a second one after the "---" on line 14; remove it or merge it into the first`},
		{minimal + "---\n\n---\n- x\n",
			`line 17: a configuration is one YAML document, found a second one after the "---" on line 16; remove it or merge it into the first`},
		{minimal + "---\nnull\n",
			`line 15: a configuration is one YAML document, found a second one after the "---" on line 14; remove it or merge it into the first`},
	} {
		_, err := Parse([]byte(tc.yml))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\ngot  %v\nwant %s", tc.yml, err, tc.want)
		}
	}
}
