package jsonobj

// The scanner: it checks that bytes are one well-formed JSON value and
// finds value boundaries, without building anything. It never allocates,
// which is why socketio.Decode can validate every payload; encoding/json's
// Valid does the same job at a few times the cost. Like encoding/json it
// does not check UTF-8 inside strings (a websocket text frame is already
// checked by the transport).

// MaxDepth is the deepest nesting of arrays and objects the package
// accepts, so that hostile input ("[[[[...") cannot grow the stack without
// limit. Real payloads nest a handful of levels; encoding/json allows
// 10000.
const MaxDepth = 1000

// IsSpace reports whether c is JSON insignificant whitespace.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the index of the first byte at or after b[i] that is
// not whitespace (len(b) if there is none).
func SkipSpace(b []byte, i int) int {
	for i < len(b) && IsSpace(b[i]) {
		i++
	}
	return i
}

// Valid reports whether b is exactly one JSON value, optionally surrounded
// by whitespace, nested at most MaxDepth deep.
func Valid(b []byte) bool {
	end := scanValue(b, SkipSpace(b, 0), 0)
	return end >= 0 && SkipSpace(b, end) == len(b)
}

// ValidWithin is Valid with the nesting bounded by maxDepth (capped at
// MaxDepth) instead of MaxDepth.
func ValidWithin(b []byte, maxDepth int) bool {
	// Starting deeper makes the scanners' MaxDepth check fire at maxDepth.
	end := scanValue(b, SkipSpace(b, 0), MaxDepth-min(max(maxDepth, 0), MaxDepth))
	return end >= 0 && SkipSpace(b, end) == len(b)
}

// scanValue checks the value starting at b[i] and returns the index just
// after it, or -1 when it is malformed. depth is the number of arrays and
// objects that enclose b[i] (0 at the top level); the value fails once
// its own nesting would take that past MaxDepth.
func scanValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return scanString(b, i)
	case c == '{':
		return scanObject(b, i, depth+1)
	case c == '[':
		return scanArray(b, i, depth+1)
	case c == '-' || isDigit(c):
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return -1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

func scanLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// plainStringByte marks bytes that a JSON string holds as they are: all but
// the quote, the backslash and control characters.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString expects b[i] == '"'.
func scanString(b []byte, i int) int {
	for i++; i < len(b); {
		// Fast path over the plain run, which is nearly the whole string.
		for i < len(b) && plainStringByte[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return -1
				}
				i += 6
			default:
				return -1
			}
		default: // a control character
			return -1
		}
	}
	return -1
}

func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		i = scanDigits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i+1 >= len(b) || !isDigit(b[i+1]) {
			return -1
		}
		i = scanDigits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = scanDigits(b, i)
	}
	return i
}

func scanDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// scanArray expects b[i] == '['.
func scanArray(b []byte, i, depth int) int {
	if depth > MaxDepth {
		return -1
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		if i = scanValue(b, i, depth); i < 0 {
			return -1
		}
		i = SkipSpace(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ']':
			return i + 1
		case ',':
			i = SkipSpace(b, i+1)
		default:
			return -1
		}
	}
}

// scanObject expects b[i] == '{'.
func scanObject(b []byte, i, depth int) int {
	if depth > MaxDepth {
		return -1
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		if i = scanString(b, i); i < 0 {
			return -1
		}
		i = SkipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		if i = scanValue(b, SkipSpace(b, i+1), depth); i < 0 {
			return -1
		}
		i = SkipSpace(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '}':
			return i + 1
		case ',':
			i = SkipSpace(b, i+1)
		default:
			return -1
		}
	}
}
