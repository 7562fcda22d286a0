package socketio

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/baton-rt/baton/internal/wire/jsonobj"
)

func TestReadPubSubRequest(t *testing.T) {
	tests := []struct {
		in         string
		channel    string
		hasChannel bool
		since      string
		data       string
		err        error
	}{
		{in: `{"channel":"news","data":{"x":[1,2]}}`, channel: "news", hasChannel: true, data: `{"x":[1,2]}`},
		{in: ` {"since":7, "channel":"a\u00e9"} `, channel: "aé", hasChannel: true, since: "7"},
		{in: `{"channel":null,"data":1}`, data: "1"},
		{in: `{}`},
		{in: `{"channel":"a","channel":"b"}`, channel: "b", hasChannel: true}, // the last wins
		{in: `{"Channel":"a"}`}, // keys match exactly
		{in: `"news"`, err: ErrNotObject},
		{in: `[1]`, err: ErrNotObject},
		{in: ``, err: ErrNotObject},
		{in: `{"channel":7}`, err: jsonobj.ErrBadJSON},
		{in: `{"channel":"a",}`, err: jsonobj.ErrBadJSON},
		{in: `{"channel":"a"} x`, err: jsonobj.ErrBadJSON},
		{in: `{"channel":"a","data":}`, err: jsonobj.ErrBadJSON},
	}
	for _, tc := range tests {
		r, err := ReadPubSubRequest([]byte(tc.in), nil)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: err %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || r.Channel != tc.channel || r.HasChannel != tc.hasChannel || string(r.Since) != tc.since || string(r.Data) != tc.data {
			t.Errorf("%s: %+v %v, want channel %q (%v) since %q data %q", tc.in, r, err, tc.channel, tc.hasChannel, tc.since, tc.data)
		}
	}
}

func TestReadSince(t *testing.T) {
	for _, tc := range []struct {
		since string
		want  uint64
		ok    bool
		bad   bool
	}{
		{since: ""}, {since: "null"}, {since: "0", ok: true}, {since: "18446744073709551615", want: 1<<64 - 1, ok: true},
		{since: "-1", bad: true}, {since: "1.5", bad: true}, {since: `"1"`, bad: true}, {since: "18446744073709551616", bad: true},
	} {
		r := PubSubRequest{}
		if tc.since != "" {
			r.Since = []byte(tc.since)
		}
		n, ok, err := r.ReadSince()
		if tc.bad {
			if !errors.Is(err, ErrBadSince) {
				t.Errorf("since %s: %v, want ErrBadSince", tc.since, err)
			}
			continue
		}
		if err != nil || n != tc.want || ok != tc.ok {
			t.Errorf("since %s: %d %v %v", tc.since, n, ok, err)
		}
	}
}

// A request on a channel the names table knows costs no allocation.
func TestReadPubSubRequestAllocatesNothing(t *testing.T) {
	var names Names
	arg := []byte(`{"channel":"room-1","data":{"text":"hello"}}`)
	if _, err := ReadPubSubRequest(arg, &names); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if r, err := ReadPubSubRequest(arg, &names); err != nil || r.Channel != "room-1" {
			t.Fatalf("%+v %v", r, err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per request, want 0", n)
	}
}

// FuzzReadPubSubRequest: never a panic; what it accepts, encoding/json
// accepts too, with the same channel and the members' values valid JSON.
func FuzzReadPubSubRequest(f *testing.F) {
	for _, s := range []string{`{"channel":"c","since":3,"data":{"a":[1,"x"]}}`, `{"channel":null}`, `{}`, `[]`, `{"channel":"\ud800"}`, `{"data":}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, arg []byte) {
		r, err := ReadPubSubRequest(arg, nil)
		if err != nil {
			return
		}
		var v struct {
			Channel *string         `json:"channel"`
			Since   json.RawMessage `json:"since"`
			Data    json.RawMessage `json:"data"`
		}
		if !json.Valid(arg) {
			t.Fatalf("accepted invalid JSON %q", arg)
		}
		if r.Since != nil && !json.Valid(r.Since) || r.Data != nil && !json.Valid(r.Data) {
			t.Fatalf("%q: members not valid JSON: since %q data %q", arg, r.Since, r.Data)
		}
		if json.Unmarshal(arg, &v) == nil && r.HasChannel && v.Channel != nil && *v.Channel != r.Channel {
			// encoding/json may take a differently cased key; compare only
			// when the exact key is the one that counts.
			var exact map[string]json.RawMessage
			if json.Unmarshal(arg, &exact) == nil {
				if raw, ok := exact["channel"]; ok {
					var s string
					if json.Unmarshal(raw, &s) == nil && s != r.Channel {
						t.Fatalf("%q: channel %q, encoding/json reads %q", arg, r.Channel, s)
					}
				}
			}
		}
	})
}
