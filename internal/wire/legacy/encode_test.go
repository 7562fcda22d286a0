package legacy

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestAppend(t *testing.T) {
	tests := []struct {
		f    Frame
		want string
	}{
		{Frame{Type: TypeSubscribe, ID: 1, Channel: "C"}, `{"type":"subscribe","id":1,"channel":"C"}`},
		{Frame{Type: TypeSubscribe, ID: 1, Channel: "C", HasSince: true}, `{"type":"subscribe","id":1,"channel":"C","since":0}`},
		{Frame{Type: TypeUnsubscribe, ID: 2, Channel: "C"}, `{"type":"unsubscribe","id":2,"channel":"C"}`},
		{Frame{Type: TypePublish, ID: 3, Channel: "C", Data: []byte(`[1, 2]`)}, `{"type":"publish","id":3,"channel":"C","data":[1, 2]}`},
		{Frame{Type: TypePublish, ID: 3, Channel: "C"}, `{"type":"publish","id":3,"channel":"C","data":null}`},
		{Frame{Type: TypePing, ID: 4}, `{"type":"ping","id":4}`},
		{Frame{Type: TypePong, ID: 4}, `{"type":"pong","id":4}`},
		{Frame{Type: TypeWelcome, Session: "s-1"}, `{"type":"welcome","session":"s-1"}`},
		{Frame{Type: TypeAck, ID: 1}, `{"type":"ack","id":1}`},
		{Frame{Type: TypeAck, ID: 1, Seq: 0, HasSeq: true}, `{"type":"ack","id":1,"seq":0}`},
		{Frame{Type: TypeMessage, Channel: "C", Seq: 18446744073709551615, Data: []byte(`{"x":"y"}`)}, `{"type":"message","channel":"C","seq":18446744073709551615,"data":{"x":"y"}}`},
		{Frame{Type: TypeError, Code: "bad_request", Message: `want "id"`}, `{"type":"error","code":"bad_request","message":"want \"id\""}`},
		{Frame{Type: TypeError, ID: 5, Code: "history_gone", Message: "m", Channel: "C"}, `{"type":"error","id":5,"code":"history_gone","message":"m","channel":"C"}`},
		{Frame{Type: "typing", Raw: []byte(`{"type":"typing","who":1}`)}, `{"type":"typing","who":1}`},
		{Frame{Type: "typing", ID: 9}, `{"type":"typing","id":9}`},
		{Frame{Type: TypeWelcome, Session: "a\x01\t\n\r\\\"é\xff中"}, `{"type":"welcome","session":"a\u0001\t\n\r\\\"é\ufffd中"}`},
	}
	for _, tt := range tests {
		got := string(Append(nil, tt.f))
		if got != tt.want {
			t.Errorf("Append(%+v)\n got %s\nwant %s", tt.f, got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("Append(%+v) is not valid JSON: %s", tt.f, got)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	frames := []Frame{
		{Type: TypeSubscribe, ID: 1, Channel: "room/1", Since: 5, HasSince: true},
		{Type: TypeUnsubscribe, ID: 2, Channel: "ü\"\\"},
		{Type: TypePublish, ID: 3, Channel: "C", Data: []byte(`{"nested":{"deep":[1,{"x":null}]}}`)},
		{Type: TypePing, ID: 1<<53 + 1},
		{Type: TypeAck, ID: 3, Seq: 12, HasSeq: true},
		{Type: TypeMessage, Channel: "C", Seq: 1, HasSeq: true, Data: []byte(`"\u2028"`)},
		{Type: TypeError, ID: 7, Code: CodeTooManySubscriptions, Message: "max 100", Channel: "C"},
		{Type: TypeWelcome, Session: "abc"},
	}
	for _, f := range frames {
		b := Append(nil, f)
		got, err := Decode(b)
		if err != nil {
			t.Errorf("Decode(Append(%+v)) = %s: %v", f, b, err)
			continue
		}
		got.Raw = nil
		if !reflect.DeepEqual(got, f) {
			t.Errorf("round trip of %s\n got %+v\nwant %+v", b, got, f)
		}
	}
}

func TestAppendMessageAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	data := []byte(`{"price":101.5,"sym":"ABC"}`)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendMessage(buf[:0], "prices/ABC", 123456, data)
	})
	if allocs != 0 {
		t.Fatalf("AppendMessage allocates %.1f times per call, want 0", allocs)
	}
}
