package jsonobj

import (
	"encoding/json"
	"testing"
)

// The payload of a typical chat event, about 80 bytes.
var benchEvent = []byte(`["chat message",{"room":"lobby","user":"u-1234","text":"hello there, how are you?"}]`)

// Reference points for the payload check socketio.Decode does.
func BenchmarkValidJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		Valid(benchEvent)
	}
}

func BenchmarkStdlibJSONValid(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		json.Valid(benchEvent)
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
