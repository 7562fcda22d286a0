package engineio

import (
	"encoding/base64"
	"fmt"
)

// DecodeText decodes one packet in text form: a websocket text frame or one
// segment of a polling payload. A segment starting with 'b' is a base64
// binary message (polling form); its Data is newly allocated. Otherwise Data
// aliases frame.
func DecodeText(frame []byte) (Packet, error) {
	if len(frame) == 0 {
		return Packet{}, ErrEmpty
	}
	t := Type(frame[0])
	if t == binaryPrefix {
		data := make([]byte, base64.StdEncoding.DecodedLen(len(frame)-1))
		n, err := base64.StdEncoding.Decode(data, frame[1:])
		if err != nil {
			return Packet{}, fmt.Errorf("%w: %w", ErrBadBase64, err)
		}
		return Packet{Type: Message, Data: data[:n], Binary: true}, nil
	}
	if !t.Valid() {
		return Packet{}, fmt.Errorf("%w: %q", ErrUnknownType, frame[0])
	}
	var data []byte
	if len(frame) > 1 {
		data = frame[1:]
	}
	return Packet{Type: t, Data: data}, nil
}

// DecodeBinary decodes a websocket binary frame, which is always a binary
// Message carrying the frame bytes as they are (Data aliases frame).
func DecodeBinary(frame []byte) Packet {
	return Packet{Type: Message, Data: frame, Binary: true}
}

// AppendText appends the text form of p to dst: the type byte and the data,
// or "b" and the base64 of the data for a binary message (the polling
// form; on a websocket send p.Data as a binary frame instead).
func AppendText(dst []byte, p Packet) []byte {
	if p.Binary {
		dst = append(dst, binaryPrefix)
		return base64.StdEncoding.AppendEncode(dst, p.Data)
	}
	dst = append(dst, byte(p.Type))
	return append(dst, p.Data...)
}
