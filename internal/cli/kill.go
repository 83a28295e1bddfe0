package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/bus"
)

func (a *app) killCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "kill <exec_id>",
		Short: "Terminate an execution's running processes on every agent (NATS kill.<exec_id>)",
		Long: `Publish kill.<exec_id> on the broker: every agent running that execution
terminates its process tree, and the run reports killed with exit code -1.
Goes straight to NATS, so it works while the backend is down.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := subjectSafe("exec_id", id); err != nil {
				return err
			}
			nc, err := a.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			if err := nc.Publish(bus.Kill(id), nil); err != nil {
				return fmt.Errorf("publish %s: %w", bus.Kill(id), err)
			}
			if err := nc.FlushTimeout(5 * time.Second); err != nil {
				return fmt.Errorf("publish %s: %w", bus.Kill(id), err)
			}
			return a.emitValue(map[string]string{"exec_id": id, "subject": bus.Kill(id)}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "kill sent for execution %s (%s)\n", id, bus.Kill(id))
				return err
			})
		},
	}
}
