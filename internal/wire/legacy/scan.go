package legacy

// scanner validates JSON (RFC 8259) and slices out values without
// decoding them.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) fail(msg string) error { return &SyntaxError{Offset: s.i, Msg: msg} }

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object scans the top-level object, storing the raw value of every known
// key in raw, and requires nothing but whitespace after it.
func (s *scanner) object(raw *[numFields][]byte) error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.fail("want a JSON object")
	}
	s.i++
	s.ws()
	var dup error
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
	} else {
		for {
			s.ws()
			kstart := s.i
			if err := s.str(); err != nil {
				return err
			}
			key := s.b[kstart:s.i]
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return s.fail("want ':' after object key")
			}
			s.i++
			s.ws()
			vstart := s.i
			if err := s.value(1); err != nil {
				return err
			}
			if err := store(raw, key, s.b[vstart:s.i]); err != nil && dup == nil {
				dup = err // reported once the whole frame is known to be JSON
			}
			s.ws()
			if s.i >= len(s.b) {
				return s.fail("unterminated object")
			}
			if s.b[s.i] == '}' {
				s.i++
				break
			}
			if s.b[s.i] != ',' {
				return s.fail("want ',' or '}' in object")
			}
			s.i++
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return s.fail("data after the object")
	}
	return dup
}

// store records val if key (a string token, quotes included) names a known
// field. Escaped keys are rare and take the slow path.
func store(raw *[numFields][]byte, key, val []byte) error {
	name := key[1 : len(key)-1]
	for _, c := range name {
		if c == '\\' {
			k, _ := unquote(key)
			name = []byte(k)
			break
		}
	}
	f, ok := lookupField(name)
	if !ok {
		return nil
	}
	if raw[f] != nil {
		return bad(fieldNames[f], "appears twice")
	}
	raw[f] = val
	return nil
}

// value scans one JSON value of any kind.
func (s *scanner) value(depth int) error {
	if depth > maxDepth {
		return s.fail("nested too deep")
	}
	if s.i >= len(s.b) {
		return s.fail("want a value")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.str()
	case c == '{':
		return s.container(depth, '}', true)
	case c == '[':
		return s.container(depth, ']', false)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.fail("want a value")
}

// container scans an object (keyed) or array after its opening bracket.
func (s *scanner) container(depth int, end byte, keyed bool) error {
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == end {
		s.i++
		return nil
	}
	for {
		s.ws()
		if keyed {
			if err := s.str(); err != nil {
				return err
			}
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return s.fail("want ':' after object key")
			}
			s.i++
			s.ws()
		}
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.fail("unterminated container")
		}
		switch s.b[s.i] {
		case end:
			s.i++
			return nil
		case ',':
			s.i++
		default:
			return s.fail("want ',' or closing bracket")
		}
	}
}

// str scans a string token, validating escapes; raw bytes >= 0x20 pass.
func (s *scanner) str() error {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return s.fail("want a string")
	}
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return nil
		case c < 0x20:
			return s.fail("control character in string")
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return s.fail("unterminated escape")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+4 >= len(s.b) || !isHex4(s.b[s.i+1:s.i+5]) {
					return s.fail("bad \\u escape")
				}
				s.i += 5
			default:
				return s.fail("bad escape")
			}
		default:
			s.i++
		}
	}
	return s.fail("unterminated string")
}

func isHex4(h []byte) bool {
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (s *scanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return s.fail("bad number")
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if !s.digits() {
		return s.fail("bad number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return s.fail("bad number fraction")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return s.fail("bad number exponent")
		}
	}
	return nil
}

// digits consumes [0-9]+ and reports whether there was at least one.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail("bad literal")
	}
	s.i += len(lit)
	return nil
}
