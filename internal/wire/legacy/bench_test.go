package legacy

import (
	"encoding/json"
	"testing"
)

var benchMessage = []byte(`{"type":"message","channel":"prices/ABC","seq":123456,"data":{"price":101.5,"sym":"ABC","ts":1700000000123}}`)

func BenchmarkAppendMessage(b *testing.B) {
	buf := make([]byte, 0, 256)
	data := []byte(`{"price":101.5,"sym":"ABC","ts":1700000000123}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		buf = AppendMessage(buf[:0], "prices/ABC", 123456, data)
	}
}

func BenchmarkDecodeMessage(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		if _, err := Decode(benchMessage); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeMessageStdlib is the encoding/json alternative, kept for
// comparison: it validates twice and copies the raw payload.
func BenchmarkDecodeMessageStdlib(b *testing.B) {
	var v struct {
		Type    string          `json:"type"`
		Channel string          `json:"channel"`
		Seq     *uint64         `json:"seq"`
		Data    json.RawMessage `json:"data"`
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		v.Data = v.Data[:0]
		if err := json.Unmarshal(benchMessage, &v); err != nil {
			b.Fatal(err)
		}
	}
}
