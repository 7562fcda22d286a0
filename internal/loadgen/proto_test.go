package loadgen

import (
	"testing"

	"github.com/baton-rt/baton/internal/loadgen/drive"
)

func TestSocketIOClassify(t *testing.T) {
	c := sioCodec{}
	tests := []struct {
		frame string
		kind  frameKind
		id    int
	}{
		{`42["message",{"channel":"bench","seq":1,"data":{"ts":1764403375168262,"pad":"x"}}]`, frameMessage, 0},
		{`2`, framePing, 0},
		{`2probe`, frameOther, 0},
		{`431[{"ok":true}]`, frameAck, 1},
		{`4312[{"ok":true}]`, frameAck, 12},
		{`431[{"ok":false,"error":"bad channel"}]`, frameError, 1},
		{`43[{"ok":true}]`, frameOther, 0},
		{`41`, frameClose, 0},
		{`1`, frameClose, 0},
		{`42["other",1]`, frameOther, 0},
		{``, frameOther, 0},
	}
	for _, tt := range tests {
		kind, id := c.classify([]byte(tt.frame))
		if kind != tt.kind || id != tt.id {
			t.Errorf("classify(%q) = %v,%d; want %v,%d", tt.frame, kind, id, tt.kind, tt.id)
		}
	}
	if got := string(c.subscribe(`a"b`, 7)); got != `427["subscribe",{"channel":"a\"b"}]` {
		t.Errorf("subscribe frame = %s", got)
	}
	if got := string(c.pong([]byte("2"))); got != "3" {
		t.Errorf("pong = %q", got)
	}
}

func TestLegacyClassify(t *testing.T) {
	c := legacyCodec{}
	tests := []struct {
		frame string
		kind  frameKind
		id    int
	}{
		{`{"type":"message","channel":"bench","seq":9,"data":{"ts":1764403375168262}}`, frameMessage, 0},
		{`{"type":"ack","id":1}`, frameAck, 1},
		{`{"type":"ack","id":3,"seq":7}`, frameAck, 3},
		{`{"type":"error","id":1,"code":"invalid_channel","message":"no"}`, frameError, 1},
		{`{"type":"ping","id":4}`, framePing, 0},
		{`{"type":"welcome","session":"S"}`, frameOther, 0},
		{`not json`, frameOther, 0},
	}
	for _, tt := range tests {
		kind, id := c.classify([]byte(tt.frame))
		if kind != tt.kind || id != tt.id {
			t.Errorf("classify(%q) = %v,%d; want %v,%d", tt.frame, kind, id, tt.kind, tt.id)
		}
	}
	if got := string(c.subscribe("bench", 1)); got != `{"type":"subscribe","channel":"bench","id":1}` {
		t.Errorf("subscribe frame = %s", got)
	}
	if got := string(c.pong([]byte(`{"type":"ping","id":4}`))); got != `{"type":"pong","id":4}` {
		t.Errorf("pong = %s", got)
	}
	if got := string(c.pong([]byte(`{"type":"ping"}`))); got != `{"type":"pong"}` {
		t.Errorf("pong without id = %s", got)
	}
}

func TestIntAfter(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{`{"ts":1764403375168262,"pad":""}`, 1764403375168262, true},
		{`{"ts":}`, 0, false},
		{`{"nots"}`, 0, false},
		{`"ts":9999999999999999999999`, 999999999999999999, true}, // capped at 18 digits, no overflow
	}
	for _, tt := range tests {
		got, ok := drive.IntAfter([]byte(tt.in), tsKey)
		if got != tt.want || ok != tt.ok {
			t.Errorf("intAfter(%q) = %d,%v; want %d,%v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		`42["message",{"channel":"bench","seq":1,"data":{"ts":1764403375168262,"pad":"x"}}]`,
		`431[{"ok":true}]`, `2`, `41`, `40{"sid":"abc"}`,
		`{"type":"message","channel":"c","seq":1,"data":{"ts":1}}`,
		`{"type":"ack","id":1}`, `{"type":"error","id":"x"}`, `{"type":"ping","id":99999999999999999999}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range []codec{sioCodec{}, legacyCodec{}} {
			kind, id := c.classify(b)
			if id < 0 {
				t.Fatalf("negative id %d for %q", id, b)
			}
			if kind == framePing && len(c.pong(b)) == 0 {
				t.Fatalf("empty pong for %q", b)
			}
		}
		if v, ok := drive.IntAfter(b, tsKey); ok && v < 0 {
			t.Fatalf("negative timestamp %d", v)
		}
	})
}
