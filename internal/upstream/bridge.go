package upstream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// AppendLegacyFrame appends the legacy frame that carries the custom event
// (event, args) and returns the extended slice. id > 0 is written as the
// frame's request id. The rule (see the package documentation):
//
//   - one argument that is a JSON object: its members, in their order and
//     with their values verbatim, follow "type" (and "id"); members named
//     "type" or "id" in the object are replaced;
//   - no argument: {"type":event};
//   - otherwise: {"type":event,"args":[arg, ...]}.
//
// It fails with ErrInvalidArgs for an empty or non-UTF-8 event name or an
// argument that is not one JSON value.
func AppendLegacyFrame(dst []byte, event string, id uint64, args [][]byte) ([]byte, error) {
	if err := checkEvent(event, args); err != nil {
		return dst, err
	}
	dst = append(dst, `{"type":`...)
	dst = append(dst, jsonString(event)...)
	if id > 0 {
		dst = strconv.AppendUint(append(dst, `,"id":`...), id, 10)
	}
	switch {
	case len(args) == 1 && isObject(args[0]):
		var err error
		if dst, err = appendMembers(dst, args[0]); err != nil {
			return dst, err
		}
	case len(args) > 0:
		dst = append(dst, `,"args":[`...)
		for i, a := range args {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, a...)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), nil
}

// appendMembers appends ,"key":value for each member of the JSON object obj
// except "type" and "id", keeping values byte for byte.
func appendMembers(dst, obj []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // the opening brace
		return dst, fmt.Errorf("%w: %w", ErrInvalidArgs, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return dst, fmt.Errorf("%w: %w", ErrInvalidArgs, err)
		}
		key, _ := tok.(string) // inside an object every token here is a key
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return dst, fmt.Errorf("%w: %w", ErrInvalidArgs, err)
		}
		if key == "type" || key == "id" {
			continue
		}
		dst = append(dst, ',')
		dst = append(dst, jsonString(key)...)
		dst = append(dst, ':')
		dst = append(dst, val...)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return dst, fmt.Errorf("%w: %w", ErrInvalidArgs, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return dst, fmt.Errorf("%w: data after the object", ErrInvalidArgs)
	}
	return dst, nil
}

// checkEvent refuses what no protocol can carry: an empty or non-UTF-8
// event name, or an argument that is not one JSON value.
func checkEvent(event string, args [][]byte) error {
	if event == "" || !utf8.ValidString(event) {
		return fmt.Errorf("%w: event name %q", ErrInvalidArgs, event)
	}
	for i, a := range args {
		if !json.Valid(a) {
			return fmt.Errorf("%w: argument %d is not one JSON value", ErrInvalidArgs, i)
		}
	}
	return nil
}

// isObject reports whether the JSON value b is an object.
func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}
