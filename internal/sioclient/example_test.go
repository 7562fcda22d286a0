package sioclient_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/baton-rt/baton/internal/sioclient"
)

// A client of the reference pub/sub service: join "/", subscribe, publish,
// read the message back.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := sioclient.Dial(ctx, "http://127.0.0.1:8082/socket.io/", sioclient.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	s, err := c.Connect(ctx, "/", []byte(`{"token":"..."}`))
	if err != nil {
		log.Fatal(err) // a *sioclient.ConnectError when the server refused
	}

	if err := s.Subscribe(ctx, "news", nil); err != nil {
		log.Fatal(err)
	}
	if _, err := s.Publish(ctx, "news", []byte(`{"title":"hello"}`)); err != nil {
		log.Fatal(err)
	}
	for ev := range s.Events() { // closed when the socket ends; see s.Err()
		if m := ev.Message; m != nil {
			fmt.Println(m.Channel, m.Seq, string(m.Data))
			return
		}
	}
	log.Fatal(s.Err())
}

// Acks and binary attachments: arguments are raw JSON; attachments travel
// in Payload.Binary and are referred to by placeholders.
func ExampleSocket_EmitPayloadWithAck() {
	var s *sioclient.Socket // from Client.Connect
	ctx := context.Background()

	reply, err := s.EmitPayloadWithAck(ctx, "upload", sioclient.Payload{
		Args:   [][]byte{[]byte(`{"name":"a.bin"}`), sioclient.Placeholder(0)},
		Binary: [][]byte{{0xde, 0xad, 0xbe, 0xef}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(reply.Args), len(reply.Binary))
}
