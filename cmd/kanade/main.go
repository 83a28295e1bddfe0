// Command kanade is the operator CLI (SPEC §1); the work is in internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/kanade-fleet/kanade/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Main(ctx, os.Args[1:], cli.Options{})
	stop()
	os.Exit(code)
}
