package legacyclient_test

import (
	"context"
	"fmt"
	"time"

	"github.com/baton-rt/baton/internal/legacyclient"
)

func Example() {
	url, stop := startService() // ws://127.0.0.1:PORT/ws of a running legacy service
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := legacyclient.Dial(ctx, url, legacyclient.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	pos, _ := c.Subscribe(ctx, "prices", nil)
	seq, _ := c.Publish(ctx, "prices", []byte(`{"sym":"ABC","px":101.5}`))
	m := <-c.Messages()
	fmt.Println(pos, seq)
	fmt.Println(m.Channel, m.Seq, string(m.Data))

	// A second client resumes after seq 0: the history is replayed first.
	c2, _ := legacyclient.Dial(ctx, url, legacyclient.Options{})
	defer c2.Close()
	_, _ = c2.Subscribe(ctx, "prices", legacyclient.Since(0))
	m = <-c2.Messages()
	fmt.Println(m.Seq, string(m.Data))
	// Output:
	// 0 1
	// prices 1 {"sym":"ABC","px":101.5}
	// 1 {"sym":"ABC","px":101.5}
}
