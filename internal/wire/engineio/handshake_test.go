package engineio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/jsonobj"
)

// officialOpen is the data of the official server's Open packet (golden
// "open").
const officialOpen = `{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`

// past32Bits is 2^31, a variable so that the cases compile where int has
// 32 bits (the case expects an error there).
var past32Bits int64 = 1 << 31

// handshakeCases are read by TestParseHandshake and seed FuzzParseHandshake.
var handshakeCases = []struct {
	name string
	in   string
	want Handshake
	ok   bool
}{
	{"official", officialOpen,
		Handshake{SID: "lv_VI97HAXpY6yYWAAAC", Upgrades: []string{"websocket"}, PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1000000}, true},
	{"sid only", `{"sid":"x"}`, Handshake{SID: "x"}, true},
	{"whitespace", " \r\n\t{ \"sid\" : \"x\" , \"upgrades\" : [ \"websocket\" ] }\n", Handshake{SID: "x", Upgrades: []string{"websocket"}}, true},
	{"no upgrades", `{"sid":"x","upgrades":[]}`, Handshake{SID: "x", Upgrades: []string{}}, true},
	{"null upgrade", `{"sid":"x","upgrades":["websocket",null]}`, Handshake{SID: "x", Upgrades: []string{"websocket", ""}}, true},
	{"null fields", `{"sid":"x","upgrades":null,"pingInterval":null,"pingTimeout":null,"maxPayload":null}`, Handshake{SID: "x"}, true},
	{"negative and -0", `{"sid":"x","pingInterval":-1,"pingTimeout":-0,"maxPayload":` + strconv.Itoa(math.MinInt) + `}`,
		Handshake{SID: "x", PingInterval: -1, MaxPayload: math.MinInt}, true},
	// Past 32 bits: an int holds it only where int has 64.
	{"past 32 bits", `{"sid":"x","maxPayload":2147483648}`, Handshake{SID: "x", MaxPayload: int(past32Bits)}, strconv.IntSize == 64},
	{"escapes", `{"s\u0069d":"a\/b\u00e9","upgrades":["\u0077ebsocket"]}`, Handshake{SID: "a/bé", Upgrades: []string{"websocket"}}, true},
	{"unknown members", `{"x":{"sid":"no","pingInterval":"no"},"sid":"x","y":[1,{"z":[null,true,-1.5e3]}]}`, Handshake{SID: "x"}, true},
	// The last of duplicates wins, as with encoding/json.
	{"duplicate", `{"sid":"a","pingInterval":1,"sid":"b","pingInterval":2}`, Handshake{SID: "b", PingInterval: 2}, true},
	// Keys match exactly; encoding/json would also take "SID" for sid.
	{"key case", `{"SID":"x","sid":"y","PingInterval":1}`, Handshake{SID: "y"}, true},

	{"empty", ``, Handshake{}, false},
	{"null", `null`, Handshake{}, false},
	{"array", `["sid","x"]`, Handshake{}, false},
	{"string", `"x"`, Handshake{}, false},
	{"no sid", `{"upgrades":["websocket"],"pingInterval":25000}`, Handshake{}, false},
	{"empty sid", `{"sid":""}`, Handshake{}, false},
	{"null sid", `{"sid":null}`, Handshake{}, false},
	{"key case only", `{"SID":"x"}`, Handshake{}, false},
	{"sid number", `{"sid":1}`, Handshake{}, false},
	{"sid array", `{"sid":["x"]}`, Handshake{}, false},
	{"upgrades string", `{"sid":"x","upgrades":"websocket"}`, Handshake{}, false},
	{"upgrades object", `{"sid":"x","upgrades":{}}`, Handshake{}, false},
	{"upgrade number", `{"sid":"x","upgrades":["websocket",1]}`, Handshake{}, false},
	{"interval string", `{"sid":"x","pingInterval":"25000"}`, Handshake{}, false},
	{"interval fraction", `{"sid":"x","pingInterval":25000.0}`, Handshake{}, false},
	{"interval exponent", `{"sid":"x","pingInterval":2.5e4}`, Handshake{}, false},
	{"timeout bool", `{"sid":"x","pingTimeout":true}`, Handshake{}, false},
	{"max payload overflow", `{"sid":"x","maxPayload":9223372036854775808}`, Handshake{}, false},
	{"trailing garbage", officialOpen + `x`, Handshake{}, false},
	{"two objects", `{"sid":"x"}{}`, Handshake{}, false},
	{"trailing comma", `{"sid":"x",}`, Handshake{}, false},
	{"unterminated", `{"sid":"x"`, Handshake{}, false},
	{"bad nested junk", `{"sid":"x","junk":[1,{"a"}]}`, Handshake{}, false},
	{"bad escape in junk", `{"sid":"x","junk":"\q"}`, Handshake{}, false},
	{"too deep", `{"sid":"x","junk":` + strings.Repeat("[", jsonobj.MaxDepth) + strings.Repeat("]", jsonobj.MaxDepth) + `}`, Handshake{}, false},
}

func TestParseHandshake(t *testing.T) {
	for _, tc := range handshakeCases {
		got, err := ParseHandshake([]byte(tc.in))
		switch {
		case tc.ok && (err != nil || !reflect.DeepEqual(got, tc.want)):
			t.Errorf("%s: ParseHandshake(%.60q) = %#v, %v; want %#v", tc.name, tc.in, got, err, tc.want)
		case !tc.ok && !errors.Is(err, ErrBadHandshake):
			t.Errorf("%s: ParseHandshake(%.60q) = %#v, %v; want ErrBadHandshake", tc.name, tc.in, got, err)
		}
	}
}

// stdlibParseHandshake is ParseHandshake as it was, on encoding/json.
func stdlibParseHandshake(data []byte) (Handshake, error) {
	var h Handshake
	if err := json.Unmarshal(data, &h); err != nil {
		return Handshake{}, fmt.Errorf("%w: %w", ErrBadHandshake, err)
	}
	if h.SID == "" {
		return Handshake{}, fmt.Errorf("%w: no sid", ErrBadHandshake)
	}
	return h, nil
}

// readAlike reports whether ParseHandshake and encoding/json should agree
// on in: it is not nested deeper than jsonobj.MaxDepth (judged by counting
// brackets), and no key spells a field in another case or repeats one
// (testenv.PlainJSONKeys: encoding/json matches keys case-insensitively
// and decodes each duplicate, so an earlier one of the wrong type fails;
// ParseHandshake matches exactly and reads the last).
func readAlike(in []byte) bool {
	return bytes.Count(in, []byte("["))+bytes.Count(in, []byte("{")) <= jsonobj.MaxDepth &&
		testenv.PlainJSONKeys(in, "sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload")
}
