package legacy

import (
	"strconv"
	"unicode/utf8"
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

const hexDigits = "0123456789abcdef"

// appendStr appends key and s as a JSON string. Quotes, backslashes and
// control characters are escaped; invalid UTF-8 becomes U+FFFD so the frame
// stays valid JSON in a text frame.
func appendStr(dst []byte, key, s string) []byte {
	dst = append(dst, key...)
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
