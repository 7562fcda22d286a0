// Command baton moves live WebSocket and Socket.IO sessions between backend
// deployments. See internal/cli for the subcommands.
package main

import (
	"os"

	"github.com/baton-rt/baton/internal/cli"
)

func main() {
	os.Exit(cli.Execute(os.Args[1:]))
}
