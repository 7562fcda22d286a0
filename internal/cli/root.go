// Package cli holds baton's subcommands, one file each. The root command only
// wires them together; each subcommand builds its dependencies from flags and
// hands off to an internal package.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Execute runs the command line and returns the process exit code.
func Execute(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts a graceful drain; a second one, once the
	// signals are no longer caught, ends the process at once, as an
	// operator pressing Ctrl-C twice expects.
	context.AfterFunc(ctx, stop)
	return execute(ctx, args, os.Stdout, os.Stderr)
}

// execute runs the command line under ctx, which ends on an interrupt,
// and returns the exit code.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	// cobra adds its completion group at Execute, after newRoot refused
	// the unknown subcommands of the others; add it here, once the output
	// it writes the scripts to is set, so that `baton completion zhs` is
	// refused too.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		refuseUnknownSubcommands(c)
	}
	if err := root.ExecuteContext(ctx); err != nil {
		var ie *interruptedError
		if !errors.As(err, &ie) {
			fmt.Fprintln(stderr, "baton:", err)
		}
		var ec exitCoder
		if errors.As(err, &ec) {
			return ec.ExitCode()
		}
		return 1
	}
	return 0
}

// exitCoder lets a subcommand choose its exit code (e.g. a failed rollout).
type exitCoder interface{ ExitCode() int }

// exitInterrupted is the exit code of a command stopped by Ctrl-C (or
// SIGTERM) before it was done: 128 + SIGINT, what shells report.
const exitInterrupted = 130

// interruptedError ends a command the operator interrupted: exit
// exitInterrupted and no message (the operator knows).
type interruptedError struct{ err error }

func (e *interruptedError) Error() string { return "interrupted: " + e.err.Error() }
func (e *interruptedError) Unwrap() error { return e.err }
func (e *interruptedError) ExitCode() int { return exitInterrupted }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "baton",
		Short:         "Move live WebSocket and Socket.IO sessions between backends",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCmd())
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	for _, c := range root.Commands() {
		refuseUnknownSubcommands(c)
	}
	refuseUnknownHelpTopics(root)
	return root
}

// refuseUnknownSubcommands makes every command group under c (subcommands,
// nothing to run of its own) fail on an argument that names none of them:
// cobra would print the group's help and exit 0, so that a mistyped
// `baton rollout emergncy` looked done. The error suggests the near names,
// as cobra does for the root's. Alone, the group shows its help.
func refuseUnknownSubcommands(c *cobra.Command) {
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			return fmt.Errorf("unknown command %q for %q%s", args[0], c.CommandPath(), didYouMean(c, args[0]))
		}
		c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
}

// didYouMean is cobra's "Did you mean this?" paragraph for name, a
// mistyped subcommand of c; "" when no subcommand is near.
func didYouMean(c *cobra.Command, name string) string {
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor alone does not apply
	}
	s := c.SuggestionsFor(name)
	if len(s) == 0 {
		return ""
	}
	var hint strings.Builder
	hint.WriteString("\n\nDid you mean this?\n")
	for _, name := range s {
		fmt.Fprintf(&hint, "\t%s\n", name)
	}
	return hint.String()
}

// refuseUnknownHelpTopics makes `baton help` fail on a command that does
// not exist (`baton help rolout`, `baton help rollout emergncy`): cobra's
// help command prints "Unknown help topic" and the root's usage on stdout
// (or the group's help) and exits 0, as if help had been found.
func refuseUnknownHelpTopics(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	help, _, err := root.Find([]string{"help"})
	if err != nil || help == root || help.Run == nil {
		return
	}
	show := help.Run
	help.Run = nil
	help.RunE = func(c *cobra.Command, args []string) error {
		cmd, rest, err := c.Root().Find(args)
		if cmd == nil {
			cmd = c.Root()
		}
		if err != nil || (len(rest) > 0 && cmd.HasSubCommands()) {
			return fmt.Errorf("unknown help topic %q for %q%s", rest[0], cmd.CommandPath(), didYouMean(cmd, rest[0]))
		}
		show(c, args)
		return nil
	}
}

// needArgs is the positional-argument check of a command that takes one
// argument, what (atMost 1), or one or more (atMost 0): it says what is
// missing, "weight set: missing the weight (0-100)", where cobra says
// "accepts 1 arg(s), received 0".
func needArgs(what string, atMost int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
		switch {
		case len(args) == 0:
			return fmt.Errorf("%s: missing %s", name, what)
		case atMost > 0 && len(args) > atMost:
			return fmt.Errorf("%s: takes only %s, got %d arguments: %s", name, what, len(args), strings.Join(args, " "))
		}
		return nil
	}
}

// subcommands is filled by each subcommand file's init, so adding a command
// touches only its own file.
var subcommands []func() *cobra.Command

func register(f func() *cobra.Command) { subcommands = append(subcommands, f) }
