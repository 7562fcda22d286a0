package socketio

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/wire/jsonobj"
)

func TestDecodeErrors(t *testing.T) {
	deep := func(n int) string { return "2[\"e\"," + strings.Repeat("[", n) + strings.Repeat("]", n) + "]" }
	bad := []string{
		"",
		"8",
		"2",                           // event without payload
		"3/chat,4",                    // ack without payload
		"5",                           // binary without count
		"51-",                         // binary without payload
		"51x[\"a\"]",                  // attachment count without its dash (the official decoder: Illegal attachments)
		"2 [\"a\"]",                   // leading whitespace
		"2\n[\"a\"]",                  // leading whitespace
		"29223372036854775808[\"a\"]", // ack id = MaxInt64+1
		"2999999999999999999999[\"a\"]",
		"599999999999999999999-[\"a\"]",
		"52147483648-[\"a\"]",
		"2[\"a\"]\x00",
		"2[\"a\",01]",  // leading zero number
		"2[\"a\",1.]",  // bad fraction
		"2[\"a\",1e]",  // bad exponent
		"2[\"a\",-]",   // lone minus
		"2[\"a\",tru]", // bad literal
		"2[\"a\",{\"k\"}]",
		"2[\"a\",{\"k\":1,}]",
		"2[\"a\",{1:1}]",
		"2[\"\\u12G4\"]",
		"0{\"a\":1}{}",
		deep(jsonobj.MaxDepth),
	}
	for _, in := range bad {
		if p, err := Decode([]byte(in)); !errors.Is(err, ErrBadPacket) {
			t.Errorf("Decode(%.40q) = %+v, %v; want ErrBadPacket", in, p, err)
		}
	}
	good := []string{
		"29223372036854775807[\"a\"]", // MaxInt64
		"2[\"a\",-0.5e+10,1E-2,0,\"\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\"]",
		"2[-1]",
		"2[ \"a\" ]",
		"3[ ]",
		"0{ }",
		"2[\"a\"]\r\n",
		deep(jsonobj.MaxDepth - 2),
	}
	for _, in := range good {
		if _, err := Decode([]byte(in)); err != nil {
			t.Errorf("Decode(%.40q): %v", in, err)
		}
	}
}

func TestDecodeAliases(t *testing.T) {
	in := []byte(`2/chat,3["a",1]`)
	p, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	in[len(in)-2] = '2'
	if string(p.Data) != `["a",2]` {
		t.Errorf("Data = %s, want it to alias the input", p.Data)
	}
	if p.Namespace != "/chat" {
		t.Errorf("Namespace = %q changed with the input", p.Namespace)
	}
}

func TestAppend(t *testing.T) {
	tests := []struct {
		p    Packet
		want string
	}{
		{Packet{Type: Connect}, "0"},
		{Packet{Type: Connect, Namespace: "/"}, "0"},
		{Packet{Type: Disconnect, Namespace: "/a"}, "1/a,"},
		{Packet{Type: Event, Namespace: "/a", ID: 0, HasID: true, Data: []byte(`["x"]`)}, `2/a,0["x"]`},
		{Packet{Type: Ack, ID: 5, HasID: true, Data: []byte(`[]`)}, `35[]`},
		{Packet{Type: BinaryAck, Attachments: 3, Data: []byte(`[]`)}, `63-[]`},
		{Packet{Type: Event, Attachments: 3, Data: []byte(`["x"]`)}, `2["x"]`},
	}
	for _, tt := range tests {
		if got := string(Append(nil, tt.p)); got != tt.want {
			t.Errorf("Append(%+v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestSplitEvent(t *testing.T) {
	tests := []struct {
		in   string
		name string
		args []string
	}{
		{`["chat"]`, "chat", nil},
		{`["chat",1,"two",{"a":[3]},null]`, "chat", []string{`1`, `"two"`, `{"a":[3]}`, `null`}},
		{` [ "chat" , 1 , [ ] ] `, "chat", []string{`1`, `[ ]`}},
		{`["a\"b\u00e9\n"]`, "a\"bé\n", nil},
		{`[42,"x"]`, "42", []string{`"x"`}},
		{`[-1.5]`, "-1.5", nil},
		{`[""]`, "", nil},
	}
	for _, tt := range tests {
		name, args, err := SplitEvent([]byte(tt.in))
		if err != nil {
			t.Errorf("SplitEvent(%s): %v", tt.in, err)
			continue
		}
		var got []string
		for _, a := range args {
			got = append(got, string(a))
		}
		if name != tt.name || strings.Join(got, "|") != strings.Join(tt.args, "|") {
			t.Errorf("SplitEvent(%s) = %q %q, want %q %q", tt.in, name, got, tt.name, tt.args)
		}
	}
	for _, in := range []string{``, `{}`, `[]`, `[null]`, `[{}]`, `["a",]`, `["a"]x`, `["a"`, `"a"`, `["\x"]`} {
		if _, _, err := SplitEvent([]byte(in)); !errors.Is(err, ErrBadPacket) {
			t.Errorf("SplitEvent(%s) error = %v, want ErrBadPacket", in, err)
		}
	}
}

func TestSplitEventArgsDoNotGrowIntoData(t *testing.T) {
	data := []byte(`["e","a","b"]`)
	_, args, err := SplitEvent(data)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(args[0], 'X') // must not overwrite the next byte of data
	if string(data) != `["e","a","b"]` {
		t.Errorf("append to an arg changed data: %s", data)
	}
}

func TestAppendEventAndArgs(t *testing.T) {
	if got := string(AppendEvent(nil, "chat", []byte(`1`), []byte(`{"a":"b"}`))); got != `["chat",1,{"a":"b"}]` {
		t.Errorf("AppendEvent = %s", got)
	}
	if got := string(AppendEvent(nil, "x")); got != `["x"]` {
		t.Errorf("AppendEvent = %s", got)
	}
	if got := string(AppendArgs(nil)); got != `[]` {
		t.Errorf("AppendArgs() = %s", got)
	}
	if got := string(AppendArgs(nil, []byte(`1`), []byte(`"x"`))); got != `[1,"x"]` {
		t.Errorf("AppendArgs = %s", got)
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{"q\"b\\s/", `"q\"b\\s/"`},
		{"\b\f\n\r\t\x00\x1e\x1f", `"\b\f\n\r\t\u0000\u001e\u001f"`},
		{"<&> \u2028 é 😀", "\"<&> \u2028 é 😀\""},
		{"a\xffb", "\"a\ufffdb\""},
	}
	for _, tt := range tests {
		if got := string(AppendString(nil, tt.in)); got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestDecoder(t *testing.T) {
	var d Decoder
	header := []byte(`52-/f,1["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	if _, complete, err := d.Text(header); complete || err != nil || !d.Awaiting() {
		t.Fatalf("Text(header): complete=%v err=%v", complete, err)
	}
	copy(header, bytes.Repeat([]byte{'x'}, len(header))) // the caller reuses its buffer
	if _, complete, err := d.Binary([]byte("one")); complete || err != nil {
		t.Fatalf("Binary #1: complete=%v err=%v", complete, err)
	}
	m, complete, err := d.Binary([]byte("two"))
	if !complete || err != nil || d.Awaiting() {
		t.Fatalf("Binary #2: complete=%v err=%v", complete, err)
	}
	if m.Type != BinaryEvent || m.Namespace != "/f" || m.ID != 1 || string(m.Binary[1]) != "two" ||
		!bytes.HasPrefix(m.Data, []byte(`["up",`)) {
		t.Errorf("message = %+v", m)
	}

	// A plain packet passes straight through.
	m, complete, err = d.Text([]byte(`2["e"]`))
	if !complete || err != nil || m.Type != Event || m.Binary != nil {
		t.Errorf("Text(event) = %+v %v %v", m, complete, err)
	}
}

func TestDecoderErrors(t *testing.T) {
	var d Decoder
	if _, _, err := d.Binary([]byte("x")); !errors.Is(err, ErrUnexpectedBinary) {
		t.Errorf("Binary with nothing pending: %v", err)
	}
	d.Text([]byte(`51-["e",{"_placeholder":true,"num":0}]`))
	if _, _, err := d.Text([]byte(`2["e"]`)); !errors.Is(err, ErrUnexpectedText) {
		t.Errorf("Text while awaiting: %v", err)
	}
	if d.Awaiting() {
		t.Error("still awaiting after an error")
	}
	if _, _, err := d.Text([]byte(`511-["e"]`)); !errors.Is(err, ErrTooManyAttachments) {
		t.Errorf("11 attachments: %v", err)
	}
	small := Decoder{MaxAttachments: 20, MaxPacketSize: 32}
	if _, _, err := small.Text([]byte(`511-["e"]`)); err != nil {
		t.Errorf("11 attachments with MaxAttachments 20: %v", err)
	}
	small.Reset()
	if _, _, err := small.Text([]byte(`2["` + strings.Repeat("a", 32) + `"]`)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("large text: %v", err)
	}
	small.Text([]byte(`52-["e"]`))
	small.Binary(make([]byte, 20))
	if _, _, err := small.Binary(make([]byte, 20)); !errors.Is(err, ErrTooLarge) || small.Awaiting() {
		t.Errorf("large attachments: %v, awaiting %v", err, small.Awaiting())
	}
	if _, _, err := small.Text([]byte(`2`)); !errors.Is(err, ErrBadPacket) {
		t.Errorf("bad packet: %v", err)
	}
}

func TestEncode(t *testing.T) {
	bin := [][]byte{[]byte("x")}
	tests := []struct {
		m        Message
		text     string
		binaries int
	}{
		{Message{Packet: Packet{Type: Event, Data: []byte(`["e",{"_placeholder":true,"num":0}]`)}, Binary: bin}, `51-["e",{"_placeholder":true,"num":0}]`, 1},
		{Message{Packet: Packet{Type: Ack, ID: 3, HasID: true, Data: []byte(`[{"_placeholder":true,"num":0}]`)}, Binary: bin}, `61-3[{"_placeholder":true,"num":0}]`, 1},
		{Message{Packet: Packet{Type: BinaryEvent, Attachments: 2, Data: []byte(`["e"]`)}}, `2["e"]`, 0},
		{Message{Packet: Packet{Type: BinaryAck, Attachments: 2, Data: []byte(`[]`)}}, `3[]`, 0},
		{Message{Packet: Packet{Type: Connect}, Binary: bin}, `0`, 0},
	}
	for _, tt := range tests {
		text, binary := Encode(tt.m)
		if string(text) != tt.text || len(binary) != tt.binaries {
			t.Errorf("Encode(%+v) = %q, %d binaries; want %q, %d", tt.m, text, len(binary), tt.text, tt.binaries)
		}
	}
}

func TestTypeString(t *testing.T) {
	if ConnectError.String() != "CONNECT_ERROR" || Type(9).String() != "Type(9)" {
		t.Errorf("String() = %q, %q", ConnectError.String(), Type(9).String())
	}
}

func TestAllocs(t *testing.T) {
	root := []byte(`217["chat",{"text":"hi"}]`)
	nsp := []byte(`2/chat,17["chat",{"text":"hi"}]`)
	if n := testing.AllocsPerRun(100, func() { Decode(root) }); n != 0 {
		t.Errorf("Decode on the root namespace: %v allocs, want 0", n)
	}
	var d Decoder
	if n := testing.AllocsPerRun(100, func() { d.Text(nsp) }); n != 0 {
		t.Errorf("Decoder.Text on a repeated namespace: %v allocs, want 0", n)
	}
}

// A reader that reuses its args array and a names table splits an event
// it has seen the like of without allocating.
func TestSplitEventToAllocatesNothing(t *testing.T) {
	data := []byte(`["message",{"channel":"c","seq":1,"data":{"x":1}}]`)
	var names Names
	var args [][]byte
	split := func() {
		var name string
		var err error
		if name, args, err = SplitEventTo(args, data, &names); err != nil || name != "message" || len(args) != 1 {
			t.Fatalf("SplitEventTo = %q %q %v", name, args, err)
		}
	}
	split()
	if n := testing.AllocsPerRun(100, split); n != 0 {
		t.Errorf("%v allocations per event, want 0", n)
	}
}

// Names keeps at most maxNames; names past that still read right.
func TestNamesBound(t *testing.T) {
	var names Names
	for i := range maxNames + 10 {
		want := "ch" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i/26)
		raw := AppendString(nil, want)
		for range 2 {
			got, err := names.Unquote(raw)
			if err != nil || got != want {
				t.Fatalf("Unquote(%s) = %q, %v", raw, got, err)
			}
		}
	}
	if len(names.m) > maxNames {
		t.Fatalf("%d names kept, bound %d", len(names.m), maxNames)
	}
	if _, err := names.Unquote([]byte(`"unterminated`)); err == nil {
		t.Fatal("a malformed string unquoted")
	}
	var none *Names
	if s, err := none.Unquote([]byte(`"a\u00e9"`)); err != nil || s != "aé" {
		t.Fatalf("nil Names: %q %v", s, err)
	}
}

// A long name reads right but is not kept: a peer sending many long event
// names must not make a connection's table hold them.
func TestNamesKeepNoLongNames(t *testing.T) {
	var names Names
	want := strings.Repeat("e", maxNameBytes)
	raw := AppendString(nil, want)
	for range 2 {
		if got, err := names.Unquote(raw); err != nil || got != want {
			t.Fatalf("Unquote of a long name: %.40q…, %v", got, err)
		}
	}
	if len(names.m) != 0 {
		t.Fatalf("a name of %d bytes was kept", len(raw))
	}
}

// TestDecoderKeepsTheNamespaceOfRepeatedPackets: the decoder reuses the
// previous packet's namespace string when the next one names the same
// namespace; the packet must still carry that namespace, not "/".
func TestDecoderKeepsTheNamespaceOfRepeatedPackets(t *testing.T) {
	var d Decoder
	for i, in := range []string{`2/chat,["a"]`, `2/chat,["b"]`, `2["c"]`, `2/chat,1["d"]`, `2/chat,["e"]`} {
		m, complete, err := d.Text([]byte(in))
		want := "/chat"
		if i == 2 {
			want = "/"
		}
		if err != nil || !complete || m.Namespace != want {
			t.Errorf("packet %d %s: namespace %q, complete %v, err %v; want %q", i, in, m.Namespace, complete, err, want)
		}
	}
}

// TestDecoderSizeBoundIsInclusive: MaxPacketSize bytes fit, text alone or
// with its attachments; one more byte does not.
func TestDecoderSizeBoundIsInclusive(t *testing.T) {
	fit := `2["` + strings.Repeat("a", 27) + `"]` // 32 bytes
	d := Decoder{MaxPacketSize: 32}
	if _, complete, err := d.Text([]byte(fit)); err != nil || !complete {
		t.Errorf("text of exactly MaxPacketSize: complete %v, %v", complete, err)
	}
	if _, _, err := d.Text([]byte(fit[:4] + "a" + fit[4:])); !errors.Is(err, ErrTooLarge) {
		t.Errorf("text of MaxPacketSize+1: %v, want ErrTooLarge", err)
	}
	head := `51-["e"]` // 8 bytes
	for extra, wantErr := range map[int]bool{0: false, 1: true} {
		d.Reset()
		if _, _, err := d.Text([]byte(head)); err != nil {
			t.Fatal(err)
		}
		_, complete, err := d.Binary(make([]byte, 32-len(head)+extra))
		if gotErr := errors.Is(err, ErrTooLarge); gotErr != wantErr || complete == wantErr {
			t.Errorf("header and attachment of MaxPacketSize%+d: complete %v, err %v; want ErrTooLarge %v", extra, complete, err, wantErr)
		}
	}
}
