package sioclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/baton-rt/baton/internal/wire/socketio"
)

// parseMessageStd is parseMessage as it was with encoding/json: the
// reference the fuzz tests compare with.
func parseMessageStd(arg []byte) (Message, error) {
	var v struct {
		Channel *string         `json:"channel"`
		Seq     *uint64         `json:"seq"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(arg, &v); err != nil {
		return Message{}, err
	}
	if v.Channel == nil || v.Seq == nil {
		return Message{}, fmt.Errorf("%w: message without channel or seq", ErrBadAck)
	}
	return Message{Channel: *v.Channel, Seq: *v.Seq, Data: v.Data}, nil
}

// parseAckStd is the ack reading of request as it was with encoding/json.
func parseAckStd(event string, arg []byte) (pubsubAck, error) {
	var v struct {
		OK    bool            `json:"ok"`
		Seq   *uint64         `json:"seq"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(arg, &v); err != nil {
		return pubsubAck{}, fmt.Errorf("%w: %s: %w", ErrBadAck, event, err)
	}
	if len(v.Error) > 0 && !bytes.Equal(v.Error, []byte("null")) {
		msg := string(v.Error)
		var str string
		if json.Unmarshal(v.Error, &str) == nil {
			msg = str
		}
		return pubsubAck{}, &AckError{Event: event, Message: msg}
	}
	if !v.OK {
		return pubsubAck{}, fmt.Errorf("%w: %s: %s", ErrBadAck, event, arg)
	}
	return pubsubAck{OK: v.OK, Seq: v.Seq}, nil
}

// ackVerdict classifies a parseAck result.
func ackVerdict(err error) string {
	var ae *AckError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ae):
		return "AckError"
	case errors.Is(err, ErrBadAck):
		return "ErrBadAck"
	}
	return fmt.Sprintf("other: %v", err)
}

// tooDeep reports nesting beyond the scanner's limit (1000), which
// encoding/json accepts (up to 10000): a rough count, enough to excuse it.
func tooDeep(in []byte) bool {
	d := 0
	for _, c := range in {
		switch c {
		case '[', '{':
			if d++; d > 1000 {
				return true
			}
		case ']', '}':
			d--
		}
	}
	return false
}

func TestParseMessage(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *Message // nil: rejected
	}{
		{`{"channel":"c","seq":1,"data":{"a":[1,{"b":null}]}}`, &Message{Channel: "c", Seq: 1, Data: []byte(`{"a":[1,{"b":null}]}`)}},
		{` { "seq" : 2 , "channel" : "c" } `, &Message{Channel: "c", Seq: 2}},
		{`{"channel":"c","seq":3,"data":null}`, &Message{Channel: "c", Seq: 3, Data: []byte(`null`)}},
		{`{"ch\u0061nnel":"\u00e9\"","seq":4,"data":"x"}`, &Message{Channel: "é\"", Seq: 4, Data: []byte(`"x"`)}},
		{`{"channel":"a","seq":1,"channel":"b","seq":5}`, &Message{Channel: "b", Seq: 5}}, // last wins
		{`{"channel":"c","seq":18446744073709551615}`, &Message{Channel: "c", Seq: 1<<64 - 1}},
		{`{"channel":"c","seq":18446744073709551616}`, nil}, // overflow
		{`{"channel":"c","seq":-1}`, nil},
		{`{"channel":"c","seq":1.0}`, nil},
		{`{"channel":"c","seq":"1"}`, nil},
		{`{"channel":"c","seq":null}`, nil},
		{`{"channel":null,"seq":1}`, nil},
		{`{"channel":1,"seq":1}`, nil},
		{`{"seq":1}`, nil},
		{`{"channel":"c","seq":1,"data":{bad}}`, nil}, // data must be JSON
		{`{"channel":"c","seq":1,"data":[1,]}`, nil},
		{`{"channel":"c","seq":1} x`, nil},
		{`{"Channel":"c","seq":1}`, nil}, // keys are case-sensitive
		{`null`, nil},
		{`["c",1]`, nil},
	} {
		got, err := parseMessage([]byte(tc.in), nil)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("parseMessage(%s) = %+v, want an error", tc.in, got)
		case tc.want == nil && !errors.Is(err, ErrBadAck):
			t.Errorf("parseMessage(%s): %v, want ErrBadAck", tc.in, err)
		case tc.want != nil && (err != nil || !reflect.DeepEqual(got, *tc.want) && !(got.Data == nil && tc.want.Data == nil && got.Channel == tc.want.Channel && got.Seq == tc.want.Seq)):
			t.Errorf("parseMessage(%s) = %+v, %v; want %+v", tc.in, got, err, *tc.want)
		}
	}
}

func TestParseAck(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	for _, tc := range []struct {
		in      string
		seq     *uint64
		verdict string
		msg     string // AckError message
	}{
		{`{"ok":true}`, nil, "ok", ""},
		{`{"ok":true,"seq":7}`, u(7), "ok", ""},
		{`{"ok":true,"seq":null,"error":null}`, nil, "ok", ""},
		{`{"error":"channel required"}`, nil, "AckError", "channel required"},
		{`{"error":{"code":"x"},"ok":true}`, nil, "AckError", `{"code":"x"}`},
		{`{"error":"x","seq":-1}`, nil, "ErrBadAck", ""}, // a bad seq wins over the error
		{`{"ok":false}`, nil, "ErrBadAck", ""},
		{`{"ok":"true"}`, nil, "ErrBadAck", ""},
		{`{"ok":true,"seq":99999999999999999999}`, nil, "ErrBadAck", ""},
		{`{}`, nil, "ErrBadAck", ""},
		{`[]`, nil, "ErrBadAck", ""},
		{`{"ok":true`, nil, "ErrBadAck", ""},
	} {
		ack, err := parseAck("subscribe", []byte(tc.in))
		var ae *AckError
		if v := ackVerdict(err); v != tc.verdict || (tc.seq == nil) != (ack.Seq == nil) || tc.seq != nil && *tc.seq != *ack.Seq ||
			(errors.As(err, &ae) && ae.Message != tc.msg) {
			t.Errorf("parseAck(%s) = %+v, %v; want seq %v, %s %q", tc.in, ack, err, tc.seq, tc.verdict, tc.msg)
		}
	}
}

func TestConnectSID(t *testing.T) {
	for in, want := range map[string]string{
		`{"sid":"abc"}`:            "abc",
		`{"sid":"a\u0062c","x":1}`: "abc",
		`{"sid":1}`:                "",
		`{"sid":null}`:             "",
		`{}`:                       "",
		``:                         "",
		`{"sid":"abc"`:             "",
	} {
		if got := connectSID([]byte(in)); got != want {
			t.Errorf("connectSID(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestParseMessageAllocs: a message costs one allocation, its channel,
// and none through a names table that has seen the channel.
func TestParseMessageAllocs(t *testing.T) {
	in := []byte(`{"channel":"news","seq":12345,"data":{"text":"hello","n":[1,2,3]}}`)
	if n := testing.AllocsPerRun(100, func() { _, _ = parseMessage(in, nil) }); n > 1 {
		t.Errorf("parseMessage: %v allocs, want at most 1", n)
	}
	var names socketio.Names
	if n := testing.AllocsPerRun(100, func() { _, _ = parseMessage(in, &names) }); n != 0 {
		t.Errorf("parseMessage with names: %v allocs, want 0", n)
	}
	ack := []byte(`{"ok":true,"seq":12}`)
	if n := testing.AllocsPerRun(100, func() { _, _ = parseAck("publish", ack) }); n > 1 {
		t.Errorf("parseAck: %v allocs, want at most 1 (the seq)", n)
	}
}
