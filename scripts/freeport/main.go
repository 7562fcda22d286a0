// Command freeport prints free TCP ports on 127.0.0.1, one per line, all
// different (internal/freeport says how they are picked).
//
//	freeport [-n COUNT]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/baton-rt/baton/internal/freeport"
)

func main() {
	n := flag.Int("n", 1, "how many ports")
	flag.Parse()
	for range *n {
		port, err := freeport.Port()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(port)
	}
}
