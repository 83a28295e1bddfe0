package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// checksCmd is `kanade checks` (SPEC §15): compliance per check, and each
// check's state on each PC.
func (a *app) checksCmd() *cobra.Command {
	var bound func() (int, error)
	cmd := &cobra.Command{
		Use:   "checks",
		Short: "List compliance checks: passing, failing and unknown PCs and compliance % per check",
		Long: "List the check jobs (manifests with a check: section) that have reported, in id order: how many\n" +
			"PCs pass, fail or have no verdict yet (UNKNOWN), and COMPLIANCE = passing / all, in %.\n" +
			"`kanade checks status` lists each check's state per PC.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.CheckSummary], error) {
				return c.ListChecks(ctx, p)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error {
				t := newTable(w, "CHECK", "SEVERITY", "FLAP", "PASSING", "FAILING", "UNKNOWN", "COMPLIANCE")
				for _, r := range rows {
					t.row(r.ID, r.Severity, strconv.Itoa(r.FlapThreshold), strconv.Itoa(r.Passing), strconv.Itoa(r.Failing),
						strconv.Itoa(r.Unknown), strconv.FormatFloat(r.CompliancePct, 'f', 1, 64)+"%")
				}
				return t.flush()
			})
		},
	}
	bound = pagingFlags(cmd, 0)
	cmd.Example = "  kanade checks\n  kanade checks status --state failing\n  kanade checks status --check disk-usage -o csv"
	cmd.AddCommand(a.checksStatusCmd())
	return cmd
}

func (a *app) checksStatusCmd() *cobra.Command {
	var q apiv1.CheckStatusQuery
	var bound func() (int, error)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List each check's state on each PC (passing, failing, unknown), in check, PC order",
		Long: "List check_status: the state of a check on a PC, since when, and FAILS, the consecutive failures\n" +
			"since the last pass (a check with flap_threshold N turns failing at the N-th). Skipped runs and\n" +
			"reserved exit codes (killed, timed out, refused, version pin, deadline, revoked) change nothing.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch q.State {
			case "", apiv1.CheckPassing, apiv1.CheckFailing, apiv1.CheckUnknown:
			default:
				return usagef("--state must be passing, failing or unknown, not %q", q.State)
			}
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.CheckStatus], error) {
				q.Page = p
				return c.ListCheckStatus(ctx, q)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error {
				t := newTable(w, "CHECK", "PC_ID", "STATE", "SINCE", "FAILS", "LAST_RESULT", "LAST_AT")
				for _, r := range rows {
					t.row(r.CheckID, r.PCID, r.State, a.when(r.Since), strconv.Itoa(r.Consecutive), r.LastResultID, a.when(r.LastAt))
				}
				return t.flush()
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.CheckID, "check", "", "only this check (job id)")
	f.StringVar(&q.PCID, "pc", "", "only this PC")
	f.StringVar(&q.State, "state", "", "only this state: passing|failing|unknown")
	bound = pagingFlags(cmd, 0)
	return cmd
}

// alertsCmd is `kanade alerts` (SPEC §15): list and acknowledge.
func (a *app) alertsCmd() *cobra.Command {
	var q apiv1.AlertQuery
	var bound func() (int, error)
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "List alerts (failing checks, agents offline), newest first; `alerts ack ID` acknowledges one",
		Long: "List alerts, newest first. A check alert opens when a check turns failing on a PC and resolves\n" +
			"at its next pass; an agent-offline alert opens when an agent is silent longer than the backend's\n" +
			"--offline-alert-after and resolves at its next heartbeat. At most one alert per check and PC is open.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch q.State {
			case "", apiv1.AlertOpen, apiv1.AlertResolved:
			default:
				return usagef("--state must be open or resolved, not %q", q.State)
			}
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.Alert], error) {
				q.Page = p
				return c.ListAlerts(ctx, q)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error { return a.alertsTable(w, rows) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.State, "state", "", "only open or resolved alerts")
	f.StringVar(&q.Kind, "kind", "", "only this kind: check|agent-offline")
	f.StringVar(&q.CheckID, "check", "", "only this check (job id)")
	f.StringVar(&q.PCID, "pc", "", "only this PC")
	bound = pagingFlags(cmd, 50)
	cmd.Example = "  kanade alerts --state open\n  kanade alerts ack chk-6f1c0b7e-...\n  kanade alerts --pc pc-0042 -o json"
	cmd.AddCommand(a.alertsAckCmd())
	return cmd
}

func (a *app) alertsTable(w io.Writer, rows []apiv1.Alert) error {
	t := newTable(w, "ID", "KIND", "CHECK", "PC_ID", "SEVERITY", "STATE", "OPENED", "RESOLVED", "ACKED_BY")
	for _, r := range rows {
		acked := ""
		if r.AckedBy != nil {
			acked = *r.AckedBy
		}
		t.row(r.ID, r.Kind, r.CheckID, r.PCID, r.Severity, r.State, a.when(r.OpenedAt), a.whenPtr(r.ResolvedAt), acked)
	}
	return t.flush()
}

func (a *app) alertsAckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ack <alert_id>",
		Short: "Acknowledge an alert (operator role; audited; acking again keeps the first ack)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			al, err := c.AckAlert(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.emitValue(al, func(w io.Writer) error {
				by := ""
				if al.AckedBy != nil {
					by = *al.AckedBy
				}
				_, err := fmt.Fprintf(w, "alert %s acknowledged by %s\n", al.ID, by)
				return err
			})
		},
	}
}
