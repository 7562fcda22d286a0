package legacy

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		in   string
		want Frame
	}{
		{`{"type":"subscribe","channel":"C","id":1}`, Frame{Type: TypeSubscribe, Channel: "C", ID: 1}},
		{`{"type":"subscribe","channel":"C","id":1,"since":0}`, Frame{Type: TypeSubscribe, Channel: "C", ID: 1, HasSince: true}},
		{`{"type":"subscribe","channel":"C","id":1,"since":42}`, Frame{Type: TypeSubscribe, Channel: "C", ID: 1, Since: 42, HasSince: true}},
		{`{"type":"unsubscribe","channel":"C","id":2}`, Frame{Type: TypeUnsubscribe, Channel: "C", ID: 2}},
		{`{"type":"publish","channel":"C","data":{"a":[1,2]},"id":3}`, Frame{Type: TypePublish, Channel: "C", ID: 3, Data: []byte(`{"a":[1,2]}`)}},
		{`{"type":"publish","channel":"C","data":null,"id":3}`, Frame{Type: TypePublish, Channel: "C", ID: 3, Data: []byte(`null`)}},
		{`{"type":"ping","id":4}`, Frame{Type: TypePing, ID: 4}},
		{`{"type":"pong","id":4}`, Frame{Type: TypePong, ID: 4}},
		{`{"type":"welcome","session":"S"}`, Frame{Type: TypeWelcome, Session: "S"}},
		{`{"type":"ack","id":1}`, Frame{Type: TypeAck, ID: 1}},
		{`{"type":"ack","id":3,"seq":7}`, Frame{Type: TypeAck, ID: 3, Seq: 7, HasSeq: true}},
		{`{"type":"message","channel":"C","seq":9,"data":"hi"}`, Frame{Type: TypeMessage, Channel: "C", Seq: 9, HasSeq: true, Data: []byte(`"hi"`)}},
		{`{"type":"error","id":5,"code":"bad_request","message":"no"}`, Frame{Type: TypeError, ID: 5, Code: "bad_request", Message: "no"}},
		{`{"type":"error","code":"history_gone","message":"m","channel":"C"}`, Frame{Type: TypeError, Code: "history_gone", Message: "m", Channel: "C"}},
		// Unknown keys and fields a type does not use are ignored.
		{`{"type":"ping","id":4,"extra":{"x":[true,false,null]},"channel":5}`, Frame{Type: TypePing, ID: 4}},
		// Whitespace everywhere JSON allows it.
		{" \t{ \"type\" : \"ping\" ,\n\"id\" : 4 }\r\n", Frame{Type: TypePing, ID: 4}},
		// Escaped key.
		{`{"t\u0079pe":"ping","id":4}`, Frame{Type: TypePing, ID: 4}},
		// Unknown type: opaque, id kept when usable.
		{`{"type":"typing","id":8,"user":"u"}`, Frame{Type: "typing", ID: 8}},
		{`{"type":"typing","id":"x"}`, Frame{Type: "typing"}},
	}
	for _, tt := range tests {
		got, err := Decode([]byte(tt.in))
		if err != nil {
			t.Errorf("Decode(%s): %v", tt.in, err)
			continue
		}
		if string(got.Raw) != tt.in {
			t.Errorf("Decode(%s): Raw = %s", tt.in, got.Raw)
		}
		got.Raw = nil
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decode(%s)\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		in    string
		want  error
		field string // for FieldErrors
	}{
		{``, ErrMalformed, ""},
		{`   `, ErrMalformed, ""},
		{`[]`, ErrMalformed, ""},
		{`"ping"`, ErrMalformed, ""},
		{`{"type":"ping","id":4`, ErrMalformed, ""},
		{`{"type":"ping","id":4}x`, ErrMalformed, ""},
		{`{"type":"ping","id":4}{}`, ErrMalformed, ""},
		{`{"type":"ping",}`, ErrMalformed, ""},
		{`{type:"ping"}`, ErrMalformed, ""},
		{`{"type":'ping'}`, ErrMalformed, ""},
		{`{"type":"ping","id":01}`, ErrMalformed, ""},
		{`{"type":"ping","id":1.}`, ErrMalformed, ""},
		{`{"type":"ping","id":-}`, ErrMalformed, ""},
		{`{"type":"ping","x":tru}`, ErrMalformed, ""},
		{"{\"type\":\"pi\nng\"}", ErrMalformed, ""},
		{`{"type":"p\x"}`, ErrMalformed, ""},
		{`{"type":"p\u12"}`, ErrMalformed, ""},
		{`{"type":"publish","id":1,"channel":"C","data":}`, ErrMalformed, ""},
		{`{"type":"publish","id":1,"channel":"C","data":[1,]}`, ErrMalformed, ""},
		{`{"type":"publish","id":1,"channel":"C","data":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`, ErrMalformed, ""},

		{`{}`, ErrMissingField, "type"},
		{`{"id":1}`, ErrMissingField, "type"},
		{`{"type":"subscribe","id":1}`, ErrMissingField, "channel"},
		{`{"type":"subscribe","channel":"C"}`, ErrMissingField, "id"},
		{`{"type":"publish","id":1,"channel":"C"}`, ErrMissingField, "data"},
		{`{"type":"ping"}`, ErrMissingField, "id"},
		{`{"type":"message","channel":"C","data":1}`, ErrMissingField, "seq"},
		{`{"type":"message","channel":"C","seq":1}`, ErrMissingField, "data"},
		{`{"type":"welcome"}`, ErrMissingField, "session"},
		{`{"type":"error","message":"m"}`, ErrMissingField, "code"},

		{`{"type":""}`, ErrBadField, "type"},
		{`{"type":7}`, ErrBadField, "type"},
		{`{"type":"ping","id":0}`, ErrBadField, "id"},
		{`{"type":"ping","id":-1}`, ErrBadField, "id"},
		{`{"type":"ping","id":1.5}`, ErrBadField, "id"},
		{`{"type":"ping","id":1e3}`, ErrBadField, "id"},
		{`{"type":"ping","id":"1"}`, ErrBadField, "id"},
		{`{"type":"ping","id":18446744073709551616}`, ErrBadField, "id"},
		{`{"type":"subscribe","id":1,"channel":5}`, ErrBadField, "channel"},
		{`{"type":"subscribe","id":1,"channel":null}`, ErrBadField, "channel"},
		{`{"type":"subscribe","id":1,"channel":"C","since":-1}`, ErrBadField, "since"},
		{`{"type":"subscribe","id":1,"channel":"C","since":"3"}`, ErrBadField, "since"},
		{`{"type":"subscribe","id":1,"channel":"C","since":null}`, ErrBadField, "since"},
		{"{\"type\":\"subscribe\",\"id\":1,\"channel\":\"\xff\"}", ErrBadField, "channel"},
		{`{"type":"ping","id":1,"id":2}`, ErrBadField, "id"},
		{`{"type":"ping","type":"pong","id":2}`, ErrBadField, "type"},
		{`{"type":"ack","id":1,"seq":"3"}`, ErrBadField, "seq"},
		{`{"type":"ack","id":1,"seq":-3}`, ErrBadField, "seq"},
	}
	for _, tt := range tests {
		_, err := Decode([]byte(tt.in))
		if !errors.Is(err, tt.want) {
			t.Errorf("Decode(%.80s): err = %v, want %v", tt.in, err, tt.want)
			continue
		}
		if tt.field != "" {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("Decode(%s): err = %v, want field %q", tt.in, err, tt.field)
			}
		}
		if !strings.HasPrefix(err.Error(), "legacy: ") {
			t.Errorf("Decode(%s): error %q lacks the package prefix", tt.in, err)
		}
	}
}

func TestDecodeErrorKeepsID(t *testing.T) {
	tests := []struct {
		in   string
		typ  string
		id   uint64
		want error
	}{
		{`{"type":"subscribe","id":7}`, TypeSubscribe, 7, ErrMissingField},
		{`{"type":"subscribe","id":7,"channel":"C","since":-2}`, TypeSubscribe, 7, ErrBadField},
		{`{"id":8}`, "", 8, ErrMissingField},
		{`{"type":"ping","id":9,"id":9}`, "", 9, ErrBadField},
		{`{"type":"ping","id":"x"}`, TypePing, 0, ErrBadField},
	}
	for _, tt := range tests {
		f, err := Decode([]byte(tt.in))
		if !errors.Is(err, tt.want) || f.Type != tt.typ || f.ID != tt.id {
			t.Errorf("Decode(%s) = type %q id %d, %v; want type %q id %d, %v", tt.in, f.Type, f.ID, err, tt.typ, tt.id, tt.want)
		}
	}
}

func TestDecodeEscapes(t *testing.T) {
	tests := []struct{ in, channel string }{
		{`"a\"b\\c\/d"`, `a"b\c/d`},
		{`"\b\f\n\r\t"`, "\b\f\n\r\t"},
		{`"\u00e9\u4E2D"`, "é中"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\ud83dx"`, "\uFFFDx"},      // lone high surrogate
		{`"\ude00"`, "\uFFFD"},        // lone low surrogate
		{`"\ud83d\u0041"`, "\uFFFDA"}, // high surrogate then non-surrogate
		{`"频道/ü"`, "频道/ü"},
	}
	for _, tt := range tests {
		in := `{"type":"unsubscribe","id":1,"channel":` + tt.in + `}`
		f, err := Decode([]byte(in))
		if err != nil {
			t.Errorf("Decode(%s): %v", in, err)
			continue
		}
		if f.Channel != tt.channel {
			t.Errorf("Decode(%s): channel %q, want %q", in, f.Channel, tt.channel)
		}
	}
}

func TestDataStaysRaw(t *testing.T) {
	data := `{ "b" : 1.50e+2 , "a" : "\u00e9" ,"z":[ ] }`
	in := `{"type":"publish","id":1,"channel":"C","data":` + data + `}`
	f, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(f.Data) != data {
		t.Fatalf("Data = %s, want byte-identical %s", f.Data, data)
	}
	out := AppendMessage(nil, f.Channel, 1, f.Data)
	if !strings.Contains(string(out), data) {
		t.Fatalf("encoded %s does not carry data verbatim", out)
	}
}

func TestDecoderSharesChannelNames(t *testing.T) {
	var d Decoder
	msg := []byte(`{"type":"message","channel":"room-1","seq":9,"data":{"x":1}}`)
	first, err := d.Decode(msg)
	if err != nil || first.Channel != "room-1" {
		t.Fatalf("first decode: %+v, %v", first, err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if f, err := d.Decode(msg); err != nil || f.Channel != "room-1" || f.Seq != 9 {
			t.Fatalf("decode: %+v, %v", f, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("a message on a known channel costs %v allocations, want 0", allocs)
	}
	// An escaped name is cached under its escaped form and comes back unquoted.
	esc := []byte(`{"type":"message","channel":"a\u0062c","seq":1,"data":0}`)
	for range 2 {
		if f, err := d.Decode(esc); err != nil || f.Channel != "abc" {
			t.Fatalf("escaped channel: %+v, %v", f, err)
		}
	}
	// Past the bound, names are still right, only no longer kept.
	for i := range maxChannelNames + 10 {
		name := fmt.Sprintf("c%d", i)
		f, err := d.Decode([]byte(`{"type":"message","channel":"` + name + `","seq":1,"data":0}`))
		if err != nil || f.Channel != name {
			t.Fatalf("channel %s: %+v, %v", name, f, err)
		}
	}
	if len(d.channels) != maxChannelNames {
		t.Fatalf("the decoder keeps %d names, want the bound %d", len(d.channels), maxChannelNames)
	}
}

// A long channel name reads right but is not kept: a peer sending many
// long names must not make a connection's decoder hold them.
func TestDecoderKeepsNoLongNames(t *testing.T) {
	var d Decoder
	long := strings.Repeat("n", maxCachedName)
	for range 2 {
		f, err := d.Decode([]byte(`{"type":"message","channel":"` + long + `","seq":1,"data":0}`))
		if err != nil || f.Channel != long {
			t.Fatalf("long channel: %.40q…, %v", f.Channel, err)
		}
	}
	if len(d.channels) != 0 {
		t.Fatalf("the decoder kept a name of %d bytes", len(long))
	}
}

// The channel-name cache is keyed by a name's bytes as they appear on the
// wire: a name written with an escaped backslash (`a\\u0062`, the six
// characters a\u0062) and one written with an escape (`a\u0062`, "ab")
// stay two channels, whichever the decoder saw first.
func TestDecoderCacheTellsEscapedFromLiteral(t *testing.T) {
	var d Decoder
	for _, c := range []struct{ wire, want string }{
		{`a\\u0062`, `a\u0062`},
		{`a\u0062`, "ab"},
		{`a\\u0062`, `a\u0062`},
	} {
		f, err := d.Decode([]byte(`{"type":"message","channel":"` + c.wire + `","seq":1,"data":0}`))
		if err != nil || f.Channel != c.want {
			t.Errorf("channel %s on the wire: %q, %v; want %q", c.wire, f.Channel, err, c.want)
		}
	}
}
