// Package jsonstr writes and reads JSON string literals for the wire codecs
// (legacy and socketio), without encoding/json's reflection and allocations
// on the per-message path.
//
// JSON leaves a writer two choices that the codecs make differently, on
// purpose, because golden files pin the bytes each kind of peer expects:
//
//   - JS, for Socket.IO, writes what JSON.stringify writes, so our frames
//     match a Node peer's byte for byte: the short escapes \b and \f, and a
//     byte of invalid UTF-8 (which a JavaScript string cannot hold) as a
//     literal U+FFFD, the character Node's own decoding would put there.
//   - Legacy writes \b and \f as \u0008 and \u000c and a byte of invalid
//     UTF-8 as the escape \ufffd, as encoding/json did before Go 1.22 (the
//     legacy server's bytes).
//
// Both escape '"', '\\' and the control characters only; every other
// character, '<', '&' and U+2028 included, stays literal.
//
// Reading has one rule, encoding/json's: escapes resolved, an unpaired
// surrogate escape and each byte of invalid UTF-8 turned into U+FFFD.
// Unquote also reports whether the literal held invalid UTF-8, for the
// legacy codec, which rejects such a frame where socketio reads on.
package jsonstr

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// Style picks the bytes Append writes where JSON allows a choice; see the
// package doc.
type Style uint8

const (
	// JS writes as JSON.stringify: \b, \f; invalid UTF-8 as a literal U+FFFD.
	JS Style = iota
	// Legacy writes \u0008, \u000c; invalid UTF-8 as the escape \ufffd.
	Legacy
)

// Append appends s to dst as a JSON string literal in the given style. With
// enough capacity in dst it does not allocate.
func Append(dst []byte, s string, style Style) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			if r, size := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
		}
		dst = append(dst, s[start:i]...)
		dst = appendEscape(dst, c, style)
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendEscape writes c, a byte that cannot stand literally in a JSON
// string: '"', '\\', a control character or a byte of invalid UTF-8.
func appendEscape(dst []byte, c byte, style Style) []byte {
	const hex = "0123456789abcdef"
	switch {
	case c == '"' || c == '\\':
		return append(dst, '\\', c)
	case c == '\n':
		return append(dst, '\\', 'n')
	case c == '\r':
		return append(dst, '\\', 'r')
	case c == '\t':
		return append(dst, '\\', 't')
	case c == '\b' && style == JS:
		return append(dst, '\\', 'b')
	case c == '\f' && style == JS:
		return append(dst, '\\', 'f')
	case c < utf8.RuneSelf:
		return append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
	case style == JS:
		return append(dst, "\ufffd"...)
	default:
		return append(dst, `\ufffd`...)
	}
}

// Unquote decodes body, the text between the quotes of a string literal
// that a scanner has already checked is well formed (Unquote does not check
// again, and may panic on a malformed escape). valid reports whether body
// was valid UTF-8; where it was not, each bad byte reads as U+FFFD. A body
// without escapes in valid UTF-8 costs one allocation (none when empty).
func Unquote(body []byte) (s string, valid bool) {
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body), true
	}
	out := make([]byte, 0, len(body)+utf8.UTFMax)
	valid = true
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == '\\':
			var r rune
			r, i = unescape(body, i)
			out = utf8.AppendRune(out, r)
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size == 1 {
				valid = false
			}
			out = utf8.AppendRune(out, r)
			i += size
		}
	}
	return string(out), valid
}

// unescape reads the escape at body[i] == '\\' and returns the character
// it stands for and the index after it.
func unescape(body []byte, i int) (rune, int) {
	switch esc := body[i+1]; esc {
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u':
		return unescapeU(body, i+2)
	default: // '"', '\\', '/'
		return rune(esc), i + 2
	}
}

// unescapeU reads the four hex digits of a \u escape at body[i:], and the
// escape after it when the two are a surrogate pair. An unpaired surrogate
// reads as U+FFFD and leaves the next escape to be read on its own, as
// encoding/json does.
func unescapeU(body []byte, i int) (rune, int) {
	r := hex4(body[i:])
	i += 4
	if !utf16.IsSurrogate(r) {
		return r, i
	}
	r2 := rune(-1)
	if i+6 <= len(body) && body[i] == '\\' && body[i+1] == 'u' {
		r2 = hex4(body[i+2:])
	}
	if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
		return dec, i + 6
	}
	return utf8.RuneError, i
}

// hex4 reads the four hex digits of a scanned \u escape.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
