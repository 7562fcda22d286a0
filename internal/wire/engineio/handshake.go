package engineio

import (
	"encoding/json"
	"fmt"
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

// ParseHandshake decodes the data of an Open packet.
func ParseHandshake(data []byte) (Handshake, error) {
	var h Handshake
	if err := json.Unmarshal(data, &h); err != nil {
		return Handshake{}, fmt.Errorf("%w: %w", ErrBadHandshake, err)
	}
	if h.SID == "" {
		return Handshake{}, fmt.Errorf("%w: no sid", ErrBadHandshake)
	}
	return h, nil
}
