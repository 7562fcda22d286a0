package socketio

import (
	"fmt"
	"strconv"

	"github.com/baton-rt/baton/internal/wire/jsonobj"
)

// checkPlaceholders applies the official decoder's rule for the
// placeholders in data, the payload of a binary packet with n attachments
// (socket.io-parser's reconstructPacket): every object whose _placeholder
// member is true must have a num member that is a number v with
// 0 <= v < n, or the packet is refused ("illegal attachments"). Passed on,
// such a packet makes an official peer close the connection. Like the
// official decoder, it does not look inside a placeholder (it stands for
// its attachment), and the last of duplicate keys wins, as in JSON.parse.
// data must be valid JSON (checkData has passed). It does not allocate
// unless a num is written other than as a plain integer.
func checkPlaceholders(data []byte, n int) error {
	if _, bad := walkPlaceholders(data, jsonobj.SkipSpace(data, 0), n); bad {
		return fmt.Errorf("%w: a placeholder stands for none of the %d attachments", ErrBadPacket, n)
	}
	return nil
}

// walkPlaceholders walks the valid JSON value at data[i] and returns the
// index after it, and whether it holds a placeholder for no attachment
// (outside any placeholder that stands for one).
func walkPlaceholders(data []byte, i, n int) (end int, bad bool) {
	switch data[i] {
	case '[':
		i = jsonobj.SkipSpace(data, i+1)
		if data[i] == ']' {
			return i + 1, false
		}
		for {
			var b bool
			i, b = walkPlaceholders(data, i, n)
			bad = bad || b
			i = jsonobj.SkipSpace(data, i)
			if data[i] == ']' {
				return i + 1, bad
			}
			i = jsonobj.SkipSpace(data, i+1)
		}
	case '{':
		// Whether the object is a placeholder is known only at its end (a
		// later duplicate key may say otherwise), so what its members hold
		// is only noted on the way.
		var placeholder, num []byte
		i = jsonobj.SkipSpace(data, i+1)
		if data[i] == '}' {
			return i + 1, false
		}
		for {
			kend := stringEnd(data, i)
			key := data[i+1 : kend-1]
			v := jsonobj.SkipSpace(data, jsonobj.SkipSpace(data, kend)+1)
			var b bool
			i, b = walkPlaceholders(data, v, n)
			bad = bad || b
			switch {
			case keyIs(key, "_placeholder"):
				placeholder = data[v:i]
			case keyIs(key, "num"):
				num = data[v:i]
			}
			i = jsonobj.SkipSpace(data, i)
			if data[i] == '}' {
				i++
				break
			}
			i = jsonobj.SkipSpace(data, i+1)
		}
		if string(placeholder) == "true" {
			return i, !indexIn(num, n)
		}
		return i, bad
	case '"':
		return stringEnd(data, i), false
	}
	for i < len(data) && !isDelimiter(data[i]) { // a number, true, false, null
		i++
	}
	return i, false
}

func isDelimiter(c byte) bool {
	return c == ',' || c == ']' || c == '}' || jsonobj.IsSpace(c)
}

// stringEnd returns the index after the valid JSON string at data[i].
func stringEnd(data []byte, i int) int {
	for i++; ; i++ {
		switch data[i] {
		case '"':
			return i + 1
		case '\\':
			i++ // the escaped byte; the rest of \uXXXX is hex digits
		}
	}
}

// keyIs reports whether the body of a valid JSON string (without its
// quotes) unescapes to want, which is ASCII, without building the string:
// a key spelled with escapes ("\u005fplaceholder") is the same key to
// JSON.parse.
func keyIs(body []byte, want string) bool {
	j := 0
	for i := 0; i < len(body); j++ {
		c := body[i]
		i++
		if c == '\\' {
			c = body[i]
			i++
			switch c {
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'u':
				r := 0
				for _, h := range body[i : i+4] {
					r = r<<4 | hexValue(h)
				}
				if r >= 0x80 {
					return false // not ASCII, so not in want
				}
				c = byte(r)
				i += 4
			}
		}
		if j >= len(want) || want[j] != c {
			return false
		}
	}
	return j == len(want)
}

// hexValue is the value of a hex digit.
func hexValue(h byte) int {
	switch {
	case h <= '9':
		return int(h - '0')
	case h >= 'a':
		return int(h-'a') + 10
	}
	return int(h-'A') + 10
}

// indexIn reports whether raw, a valid JSON value or nil, is a number v
// with 0 <= v < n, as the official decoder compares it: as a float64, so a
// fraction in range passes (it then stands for no attachment there, as
// undefined) and 0.99999999999999999 is 1.
func indexIn(raw []byte, n int) bool {
	if len(raw) == 0 || raw[0] != '-' && !isDigit(raw[0]) {
		return false
	}
	if len(raw) <= 18 { // fits in int64: the usual "num":0 costs no parse
		v, end := parseUint(raw, 0)
		if end == len(raw) {
			return v < int64(n)
		}
	}
	v, _ := strconv.ParseFloat(string(raw), 64) // ±Inf when out of range
	return v >= 0 && v < float64(n)
}
