package cli

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// whenText is a schedule's trigger in one cell.
func whenText(s apiv1.Schedule) string {
	switch {
	case s.When.Cron != "":
		return "cron " + s.When.Cron
	case s.When.Calendar != nil:
		t := "at " + s.When.Calendar.At
		if len(s.When.Calendar.Days) > 0 {
			t += " " + strings.Join(s.When.Calendar.Days, ",")
		}
		return t
	case s.When.PerPC != nil:
		if s.When.PerPC.Once {
			return "per_pc once"
		}
		return "per_pc every " + s.When.PerPC.Every
	}
	return ""
}

func (a *app) scheduleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "schedule", Aliases: []string{"schedules"}, Short: "Manage schedules (when jobs run)"}
	var bound func() (int, error)
	cmd.AddCommand(&cobra.Command{
		Use:   "apply <file|dir|glob>...",
		Short: "Validate locally, then create or update schedules from YAML/JSON",
		Long: `Create or update schedules, like ` + "`job apply`" + `: files, directories or globs,
multi-document YAML, validated locally first and reported per document; the
backend checks that the job exists. The exit status is 1 if any failed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.applyDocs(cmd.Context(), args, true, scheduleDocs)
		},
	}, &cobra.Command{
		Use:   "validate <file|dir|glob>...",
		Short: "Validate schedules locally, without a backend (for CI)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.applyDocs(cmd.Context(), args, false, scheduleDocs)
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "List schedules with their next and last fire",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// By default one page at the server's default size, as before
			// the typed client.
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.ScheduleRow], error) {
				return c.ListSchedules(ctx, p)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error {
				t := newTable(w, "ID", "JOB", "ENABLED", "WHEN", "TZ", "NEXT_FIRE", "LAST_FIRE", "LAST_EXEC")
				for _, s := range rows {
					en := "no"
					if s.Enabled {
						en = "yes"
					}
					t.row(s.ID, s.JobID, en, whenText(s.Schedule), s.TZ, a.whenPtr(s.NextFire), a.whenPtr(s.LastFire), s.LastExecID)
				}
				return t.flush()
			})
		},
	}, &cobra.Command{
		Use:   "delete <id>",
		Short: "Delete a schedule",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(func(c *apiv1.Client) (any, error) { return nil, c.DeleteSchedule(cmd.Context(), args[0]) }, "deleted schedule "+args[0])
		},
	}, &cobra.Command{
		Use:   "enable <id>",
		Short: "Enable a schedule",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(func(c *apiv1.Client) (any, error) { return c.EnableSchedule(cmd.Context(), args[0]) }, "enabled schedule "+args[0])
		},
	}, &cobra.Command{
		Use:   "disable <id>",
		Short: "Disable a schedule (it stays defined)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(func(c *apiv1.Client) (any, error) { return c.DisableSchedule(cmd.Context(), args[0]) }, "disabled schedule "+args[0])
		},
	})
	bound = pagingFlags(subcommand(cmd, "list"), 50)
	return cmd
}
