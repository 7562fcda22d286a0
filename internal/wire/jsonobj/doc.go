// Package jsonobj reads the few top-level members of small JSON objects and
// arrays on hot paths, without encoding/json's reflection, allocations and
// deep stacks: the Engine.IO handshake, Socket.IO CONNECT answers, the
// pub/sub requests, acks and messages of the reference services, and the
// payload check of every Socket.IO packet. These are read once per message
// or per connection, a few members each, and most of the value is passed
// on as it came.
//
// ObjectFields checks a whole object and slices out the members asked for;
// SplitArray and AppendElements do the same for the elements of an array;
// Unquote, Uint64, Int and Bool then read one value each, accepting what
// encoding/json would store in a Go field of that type. Valid checks a
// value without reading it.
//
// Syntax is checked as strictly as encoding/json checks it (RFC 8259, what
// JSON.parse accepts): the whole input, nested values included, and
// nothing but whitespace after the value.
//
// What it does not do:
//   - decode into Go values other than strings, integers and booleans, or
//     build trees: nested values stay raw JSON;
//   - match keys case-insensitively, as encoding/json does into a struct:
//     a key matches a Field only when it is spelled exactly the same;
//   - check UTF-8 inside strings (Unquote turns invalid bytes into U+FFFD,
//     as encoding/json does);
//   - accept nesting deeper than MaxDepth;
//   - write JSON (package jsonstr writes string literals).
package jsonobj
