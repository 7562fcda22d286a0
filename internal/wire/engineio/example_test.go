package engineio_test

import (
	"fmt"

	"github.com/baton-rt/baton/internal/wire/engineio"
)

// A polling body with a text message, a binary message and a ping, decoded
// and encoded back.
func Example() {
	body := []byte("42[\"hi\"]\x1ebAQID\x1e2")
	packets, err := engineio.DecodePayload(body)
	if err != nil {
		panic(err)
	}
	for _, p := range packets {
		fmt.Printf("%v binary=%v %q\n", p.Type, p.Binary, p.Data)
	}
	fmt.Printf("%q\n", engineio.AppendPayload(nil, packets))
	// Output:
	// message binary=false "2[\"hi\"]"
	// message binary=true "\x01\x02\x03"
	// ping binary=false ""
	// "42[\"hi\"]\x1ebAQID\x1e2"
}
