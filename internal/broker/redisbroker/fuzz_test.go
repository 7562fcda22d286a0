package redisbroker

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/broker"
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

// FuzzParseHistory feeds historyScript replies of every shape: a reply is
// read into messages since+1, since+2, … of the reply's epoch, a
// HistoryGoneError, or an errBadReply, never a panic.
func FuzzParseHistory(f *testing.F) {
	f.Add(int64(5), "e-1", int64(1), int64(0), "a\x00b\x00c", uint64(2), uint8(0))
	f.Add(int64(5), "e-1", int64(4), int64(1), "", uint64(1), uint8(0))
	f.Add(int64(-1), "e", int64(0), int64(0), "", uint64(0), uint8(0))
	f.Add(int64(3), "e", int64(1), int64(0), "x", uint64(18446744073709551615), uint8(0))
	f.Add(int64(3), "e", int64(1), int64(0), "x", uint64(0), uint8(1))
	f.Add(int64(3), "e", int64(1), int64(0), "x", uint64(0), uint8(7))
	f.Fuzz(func(t *testing.T, seq int64, epoch string, oldest, gone int64, items string, since uint64, shape uint8) {
		var list []any
		if items != "" {
			for it := range strings.SplitSeq(items, "\x00") {
				list = append(list, it)
			}
		}
		res := []any{seq, epoch, oldest, gone, list}
		switch shape % 8 {
		case 1:
			res = res[:4]
		case 2:
			res[0] = strconv.FormatInt(seq, 10) // a string where a number belongs
		case 3:
			res[4] = items
		case 4:
			list = append(list, seq) // an item that is not a string
			res[4] = list
		case 5:
			res = append(res, nil)
		}
		msgs, pos, err := parseHistory(res, "ch", since)
		if err != nil {
			var gone *broker.HistoryGoneError
			if !errors.Is(err, errBadReply) && !errors.As(err, &gone) {
				t.Fatalf("reply %v: error %v", res, err)
			}
			return
		}
		if pos.Seq != uint64(seq) || pos.Epoch != epoch || len(msgs) != len(list) {
			t.Fatalf("reply %v read as %v, %+v", res, msgs, pos)
		}
		for i, m := range msgs {
			if m.Channel != "ch" || m.Epoch != epoch || m.Seq != since+1+uint64(i) || string(m.Data) != list[i] {
				t.Fatalf("reply %v: message %d is %+v", res, i, m)
			}
		}
	})
}
