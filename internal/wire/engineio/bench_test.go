package engineio

import "testing"

var benchFrame = []byte(`42["chat message",{"room":"lobby","user":"u-1234","text":"hello there, how are you?","ts":1712345678}]`)

func BenchmarkDecodeText(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchFrame)))
	for b.Loop() {
		if _, err := DecodeText(benchFrame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendText(b *testing.B) {
	p, _ := DecodeText(benchFrame)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchFrame)))
	for b.Loop() {
		buf = AppendText(buf[:0], p)
	}
}

func BenchmarkPackets(b *testing.B) {
	body := AppendPayload(nil, []Packet{{Type: Message, Data: benchFrame[1:]}, {Type: Ping}, {Type: Message, Data: benchFrame[1:]}})
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		for _, err := range Packets(body) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkParseHandshake reads the official server's Open packet, as a
// client does once per connection, with ParseHandshake and with the
// encoding/json decode it replaced.
func BenchmarkParseHandshake(b *testing.B) {
	for _, bc := range []struct {
		name  string
		parse func([]byte) (Handshake, error)
	}{
		{"jsonobj", ParseHandshake},
		{"encoding_json", stdlibParseHandshake},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := []byte(officialOpen)
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := bc.parse(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
