package socketio_test

import (
	"fmt"

	"github.com/baton-rt/baton/internal/wire/socketio"
)

// Decoding an event that asks for an ack, and answering it.
func Example() {
	p, err := socketio.Decode([]byte(`2/chat,7["join",{"room":"lobby"}]`))
	if err != nil {
		panic(err)
	}
	name, args, _ := socketio.SplitEvent(p.Data)
	fmt.Println(p.Type, p.Namespace, p.ID, name, string(args[0]))

	ack := socketio.Packet{Type: socketio.Ack, Namespace: p.Namespace, ID: p.ID, HasID: true,
		Data: socketio.AppendArgs(nil, []byte(`"ok"`))}
	fmt.Println(string(socketio.Append(nil, ack)))
	// Output:
	// EVENT /chat 7 join {"room":"lobby"}
	// 3/chat,7["ok"]
}

// A binary event arrives as a text header followed by binary messages.
func ExampleDecoder() {
	var d socketio.Decoder
	d.Text([]byte(`51-["upload",{"_placeholder":true,"num":0}]`))
	m, complete, err := d.Binary([]byte{0xca, 0xfe})
	fmt.Println(complete, err, m.Type, m.Attachments, m.Binary[0])

	text, binary := socketio.Encode(m)
	fmt.Println(string(text), binary)
	// Output:
	// true <nil> BINARY_EVENT 1 [202 254]
	// 51-["upload",{"_placeholder":true,"num":0}] [[202 254]]
}
