package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

func (a *app) freezeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "freeze",
		Short: "Fleet change freeze: suppresses scheduled runs (manual runs still go)",
	}
	var reason, until string
	set := &cobra.Command{
		Use:   "set --reason R [--until T]",
		Short: "Freeze the fleet (until T: an RFC 3339 time or a duration from now, e.g. 48h)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := apiv1.FreezeRequest{Reason: reason}
			if until != "" {
				t, err := time.Parse(time.RFC3339, until)
				if err != nil {
					d, derr := time.ParseDuration(until)
					if derr != nil || d <= 0 {
						return usagef("--until %q: want an RFC 3339 time or a positive duration such as 48h", until)
					}
					t = a.opt.Now().Add(d)
				}
				u := t.UTC().Format(time.RFC3339)
				req.Until = &u
			}
			c, err := a.api()
			if err != nil {
				return err
			}
			if _, err := c.PutFreeze(cmd.Context(), req); err != nil {
				return err
			}
			return a.showFreeze(cmd, c)
		},
	}
	set.Flags().StringVar(&reason, "reason", "", "why (shown to operators and in the audit log)")
	set.Flags().StringVar(&until, "until", "", "end of the freeze (default: until cleared)")
	clear := &cobra.Command{
		Use:   "clear",
		Short: "End the freeze",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			if err := c.DeleteFreeze(cmd.Context()); err != nil {
				return err
			}
			return a.showFreeze(cmd, c)
		},
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Show whether the fleet is frozen",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			return a.showFreeze(cmd, c)
		},
	}
	cmd.AddCommand(set, clear, show)
	return cmd
}

func (a *app) showFreeze(cmd *cobra.Command, c *apiv1.Client) error {
	f, err := c.GetFreeze(cmd.Context())
	if err != nil {
		return err
	}
	return a.emitValue(f, func(w io.Writer) error {
		if !f.Frozen {
			_, err := fmt.Fprintln(w, "frozen: no")
			return err
		}
		until := a.whenPtr(f.Until)
		if until == "" {
			until = "until cleared"
		}
		return kv(w, "frozen", "yes", "reason", f.Reason, "by", f.By, "since", a.whenPtr(f.Since), "until", until)
	})
}
