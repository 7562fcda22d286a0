package redisbroker

import (
	"strconv"
	"strings"
	"testing"
)

func FuzzParsePayload(f *testing.F) {
	for _, seed := range []string{
		`1:0123456789abcdef-1732867200123456:{"a":1}`,
		`42:e: { "spaced" :  [1, 2] } `,
		"7:e:", "7:e:a:b:c", "0:e:x", "x:e:y", ":", "::", "1::x", "18446744073709551615:e:x", "18446744073709551616:e:x",
		"1:e:\x00\xff\x1e",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		seq, epoch, data, err := parsePayload(p)
		if err != nil {
			return
		}
		if seq == 0 || epoch == "" || strings.Contains(epoch, ":") {
			t.Fatalf("parsePayload(%q) accepted seq %d epoch %q", p, seq, epoch)
		}
		seqStr := p[:strings.IndexByte(p, ':')]
		if n, _ := strconv.ParseUint(seqStr, 10, 64); n != seq {
			t.Fatalf("parsePayload(%q) seq = %d, want %s", p, seq, seqStr)
		}
		if want := seqStr + ":" + epoch + ":" + string(data); want != p {
			t.Fatalf("parsePayload(%q) parts do not rebuild the input: %q", p, want)
		}
	})
}
