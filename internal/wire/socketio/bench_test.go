package socketio

import (
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

// A binary event of about 100 bytes with two attachments, through a
// Decoder: the header's placeholders are checked on the way.
func BenchmarkDecoderBinary(b *testing.B) {
	wire := []byte(`52-["upload",{"name":"f.bin","parts":[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]}]`)
	bins := [][]byte{{1, 2, 3}, {4, 5, 6}}
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if _, _, err := d.Text(wire); err != nil {
			b.Fatal(err)
		}
		for _, bin := range bins {
			if _, _, err := d.Binary(bin); err != nil {
				b.Fatal(err)
			}
		}
	}
}
