package socketio

import (
	"encoding/json"
	"testing"
)

// A typical chat event of about 100 bytes.
var benchWire = []byte(`2/chat,17["chat message",{"room":"lobby","user":"u-1234","text":"hello there, how are you?"}]`)

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchWire)))
	for b.Loop() {
		if _, err := Decode(benchWire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRootNamespace(b *testing.B) {
	wire := []byte(`217["chat message",{"room":"lobby","user":"u-1234","text":"hello there, how are you?"}]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if _, err := Decode(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecoderText(b *testing.B) {
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(benchWire)))
	for b.Loop() {
		if _, _, err := d.Text(benchWire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	p, err := Decode(benchWire)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchWire)))
	for b.Loop() {
		buf = Append(buf[:0], p)
	}
}

func BenchmarkSplitEvent(b *testing.B) {
	p, _ := Decode(benchWire)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := SplitEvent(p.Data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	arg := []byte(`{"room":"lobby","user":"u-1234","text":"hello there, how are you?"}`)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEvent(buf[:0], "chat message", arg)
	}
}

// Reference points for the payload check Decode does.
func BenchmarkValidJSON(b *testing.B) {
	p, _ := Decode(benchWire)
	b.ReportAllocs()
	b.SetBytes(int64(len(p.Data)))
	for b.Loop() {
		validJSON(p.Data)
	}
}

func BenchmarkStdlibJSONValid(b *testing.B) {
	p, _ := Decode(benchWire)
	b.ReportAllocs()
	b.SetBytes(int64(len(p.Data)))
	for b.Loop() {
		json.Valid(p.Data)
	}
}

// A typical pub/sub message as the gateway receives it from green.
var benchMessage = []byte(`{"channel":"room:lobby","seq":123456,"data":{"user":"u-1234","text":"hello there, how are you?","ts":1718000000000}}`)

// BenchmarkParseMessage compares reading a pub/sub message with
// encoding/json (how sioclient and upstream did it) and with ObjectFields.
func BenchmarkParseMessage(b *testing.B) {
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchMessage)))
		for b.Loop() {
			var v struct {
				Channel *string         `json:"channel"`
				Seq     *uint64         `json:"seq"`
				Data    json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(benchMessage, &v); err != nil || v.Channel == nil || v.Seq == nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ObjectFields", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchMessage)))
		for b.Loop() {
			fs := [...]Field{{Key: "channel"}, {Key: "seq"}, {Key: "data"}}
			if err := ObjectFields(benchMessage, fs[:]); err != nil {
				b.Fatal(err)
			}
			if _, err := Unquote(fs[0].Raw); err != nil {
				b.Fatal(err)
			}
			if _, err := Uint64(fs[1].Raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParseAck compares reading a pub/sub ack.
func BenchmarkParseAck(b *testing.B) {
	ack := []byte(`{"ok":true,"seq":123456}`)
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v struct {
				OK    bool            `json:"ok"`
				Seq   *uint64         `json:"seq"`
				Error json.RawMessage `json:"error"`
			}
			if err := json.Unmarshal(ack, &v); err != nil || !v.OK {
				b.Fatal(err)
			}
		}
	})
	b.Run("ObjectFields", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fs := [...]Field{{Key: "ok"}, {Key: "seq"}, {Key: "error"}}
			if err := ObjectFields(ack, fs[:]); err != nil {
				b.Fatal(err)
			}
			if ok, err := Bool(fs[0].Raw); err != nil || !ok {
				b.Fatal(err)
			}
			if _, err := Uint64(fs[1].Raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
