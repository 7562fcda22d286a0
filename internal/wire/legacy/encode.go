package legacy

import (
	"strconv"

	"github.com/baton-rt/baton/internal/wire/jsonstr"
)

// Append appends f's wire form to dst and returns the extended slice. Known
// types are written with their fields in a fixed order (the one in
// docs/protocols/legacy.md); Data is copied verbatim and written as null when
// nil. A frame of unknown type is written as its Raw bytes, or as
// {"type":...} when it has none. Append does not validate: Data must be one
// JSON value, as Decode produces.
func Append(dst []byte, f Frame) []byte {
	switch f.Type {
	case TypeMessage:
		return AppendMessage(dst, f.Channel, f.Seq, f.Data)
	case TypeSubscribe, TypeUnsubscribe, TypePublish:
		dst = appendHead(dst, f.Type)
		dst = appendUint(dst, `,"id":`, f.ID)
		dst = appendStr(dst, `,"channel":`, f.Channel)
		if f.Type == TypeSubscribe && f.HasSince {
			dst = appendUint(dst, `,"since":`, f.Since)
		}
		if f.Type == TypePublish {
			dst = appendData(dst, f.Data)
		}
	case TypePing, TypePong:
		dst = appendHead(dst, f.Type)
		dst = appendUint(dst, `,"id":`, f.ID)
	case TypeAck:
		dst = appendHead(dst, f.Type)
		dst = appendUint(dst, `,"id":`, f.ID)
		if f.HasSeq {
			dst = appendUint(dst, `,"seq":`, f.Seq)
		}
	case TypeWelcome:
		dst = appendHead(dst, f.Type)
		dst = appendStr(dst, `,"session":`, f.Session)
	case TypeError:
		dst = appendHead(dst, f.Type)
		if f.ID > 0 {
			dst = appendUint(dst, `,"id":`, f.ID)
		}
		dst = appendStr(dst, `,"code":`, f.Code)
		dst = appendStr(dst, `,"message":`, f.Message)
		if f.Channel != "" {
			dst = appendStr(dst, `,"channel":`, f.Channel)
		}
	default:
		if len(f.Raw) > 0 {
			return append(dst, f.Raw...)
		}
		dst = appendHead(dst, f.Type)
		if f.ID > 0 {
			dst = appendUint(dst, `,"id":`, f.ID)
		}
	}
	return append(dst, '}')
}

// AppendMessage appends a message frame. It is the fan-out hot path: with
// enough capacity in dst it does not allocate.
func AppendMessage(dst []byte, channel string, seq uint64, data []byte) []byte {
	dst = append(dst, `{"type":"message"`...)
	dst = appendStr(dst, `,"channel":`, channel)
	dst = appendUint(dst, `,"seq":`, seq)
	dst = appendData(dst, data)
	return append(dst, '}')
}

func appendHead(dst []byte, typ string) []byte {
	return appendStr(dst, `{"type":`, typ)
}

func appendUint(dst []byte, key string, v uint64) []byte {
	dst = append(dst, key...)
	return strconv.AppendUint(dst, v, 10)
}

func appendData(dst, data []byte) []byte {
	dst = append(dst, `,"data":`...)
	if len(data) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, data...)
}

// appendStr appends key and s as a JSON string in the legacy server's
// style (jsonstr.Legacy): quotes, backslashes and control characters are
// escaped; invalid UTF-8 becomes \ufffd so the frame stays valid JSON in a
// text frame.
func appendStr(dst []byte, key, s string) []byte {
	dst = append(dst, key...)
	return jsonstr.Append(dst, s, jsonstr.Legacy)
}
