// Package command holds what the logtoguard commands share: their exit codes
// and the way they read flags and report a usage error.
package command

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Exit codes.
const (
	ExitOK      = 0 // inspect: described; verify: the token is valid; serve: stopped by a signal
	ExitInvalid = 1 // verify: the token is refused; inspect: the input is not a token; serve: a listener failed
	ExitUsage   = 2 // bad usage, a configuration error, or the keys could not be loaded
)

// UsageError prints a one-line error for the command cmd ("" for the
// command itself) to w and returns ExitUsage.
func UsageError(w io.Writer, cmd, msg string) int {
	prefix := "logtoguard"
	if cmd != "" {
		prefix += " " + cmd
	}
	fmt.Fprintf(w, "%s: %s (see logtoguard help)\n", prefix, msg)
	return ExitUsage
}

// ParseFlags parses args with fs, allowing flags after the positional
// arguments (logtoguard verify TOKEN --audience X), and returns the
// positional ones. "-" is positional.
func ParseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// NewFlagSet returns a flag set that reports errors in one line instead of
// printing the flag defaults.
func NewFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// FlagError makes the flag package's message read as one line.
func FlagError(err error) string {
	if errors.Is(err, flag.ErrHelp) {
		return "help requested"
	}
	return err.Error()
}
