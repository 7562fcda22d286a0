package engineio

import (
	"cmp"
	"encoding/json"
	"fmt"

	"github.com/baton-rt/baton/internal/wire/jsonobj"
)

// Handshake is the data of the Open packet the server sends first. Times are
// in milliseconds, MaxPayload in bytes.
type Handshake struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

// OpenPacket returns the Open packet carrying h, with the field order of the
// official server. A nil Upgrades is sent as [] (not null), as the official
// server does when no upgrade is offered.
func OpenPacket(h Handshake) Packet {
	if h.Upgrades == nil {
		h.Upgrades = []string{}
	}
	// Marshal cannot fail: the struct holds only strings and ints.
	data, _ := json.Marshal(h)
	return Packet{Type: Open, Data: data}
}

// ParseHandshake decodes the data of an Open packet: one JSON object whose
// sid is a non-empty string, upgrades an array of strings, and
// pingInterval, pingTimeout and maxPayload integers that fit in an int.
// It reads what encoding/json would read into a Handshake, without the
// reflection: a client reads one per connection, and a gateway moving
// sessions to a Socket.IO backend opens thousands of connections a second.
// Like encoding/json it leaves an absent or null member at its zero value
// and ignores unknown members; whether the numbers make sense (a negative
// one is accepted) is the caller's to judge. Unlike encoding/json it
// matches keys exactly, not case-insensitively: the official server sends
// them spelt as in the Handshake tags.
func ParseHandshake(data []byte) (Handshake, error) {
	fs := [...]jsonobj.Field{
		{Key: "sid"}, {Key: "upgrades"}, {Key: "pingInterval"}, {Key: "pingTimeout"}, {Key: "maxPayload"},
	}
	if err := jsonobj.ObjectFields(data, fs[:]); err != nil {
		return Handshake{}, fmt.Errorf("%w: %w", ErrBadHandshake, err)
	}
	var h Handshake
	if err := cmp.Or(
		readMember(&h.SID, fs[0], jsonobj.Unquote),
		readMember(&h.Upgrades, fs[1], readStrings),
		readMember(&h.PingInterval, fs[2], readInt),
		readMember(&h.PingTimeout, fs[3], readInt),
		readMember(&h.MaxPayload, fs[4], readInt),
	); err != nil {
		return Handshake{}, fmt.Errorf("%w: %w", ErrBadHandshake, err)
	}
	if h.SID == "" {
		return Handshake{}, fmt.Errorf("%w: no sid", ErrBadHandshake)
	}
	return h, nil
}

// readMember reads f's value into dst with read, leaving dst alone when
// the member is absent or null, as encoding/json does.
func readMember[T any](dst *T, f jsonobj.Field, read func([]byte) (T, error)) error {
	if f.Raw == nil || jsonobj.IsNull(f.Raw) {
		return nil
	}
	v, err := read(f.Raw)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Key, err)
	}
	*dst = v
	return nil
}

// readStrings reads an array of strings. A null element reads as "" and
// [] as an empty slice, not nil, as encoding/json reads them.
func readStrings(raw []byte) ([]string, error) {
	elems, err := jsonobj.SplitArray(raw)
	if err != nil {
		return nil, err
	}
	ss := make([]string, len(elems))
	for i, e := range elems {
		if jsonobj.IsNull(e) {
			continue
		}
		if ss[i], err = jsonobj.Unquote(e); err != nil {
			return nil, err
		}
	}
	return ss, nil
}

// readInt reads an integer that fits in an int (which is narrower than
// jsonobj.Int's int64 on 32-bit platforms).
func readInt(raw []byte) (int, error) {
	n, err := jsonobj.Int(raw)
	if err == nil && int64(int(n)) != n {
		err = fmt.Errorf("%w: %.32q overflows int", jsonobj.ErrBadJSON, raw)
	}
	return int(n), err
}
