package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

func (a *app) agentsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "agents", Aliases: []string{"agent"}, Short: "List and inspect agents"}
	var status, q, group, sortBy string
	var quiet bool
	var bound func() (int, error)
	list := &cobra.Command{
		Use:   "list",
		Short: "List agents (online = heartbeat seen recently)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if status != "" && status != string(apiv1.AgentOnline) && status != string(apiv1.AgentOffline) {
				return usagef("--status %q: want online or offline", status)
			}
			aq := apiv1.AgentQuery{Status: apiv1.AgentStatus(status), Q: q, Group: group, Sort: sortBy}
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.Agent], error) {
				aq.Page = p
				return c.ListAgents(ctx, aq)
			})
			if err != nil {
				return err
			}
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(a.opt.Out, r.PCID)
				}
				return nil
			}
			return a.emitValue(rows, func(w io.Writer) error {
				t := newTable(w, "PC_ID", "HOSTNAME", "STATUS", "OS", "ARCH", "AGENT", "RUNNING", "LAST_HEARTBEAT", "GROUPS")
				for _, r := range rows {
					st := string(apiv1.AgentOffline)
					if r.Online {
						st = string(apiv1.AgentOnline)
					}
					t.row(r.PCID, r.Hostname, st, strings.TrimSpace(r.OSFamily+" "+r.OSVersion), r.Arch, r.AgentVersion,
						strconv.Itoa(r.Running), a.when(r.LastHeartbeat), strings.Join(r.Groups, ","))
				}
				return t.flush()
			})
		},
	}
	f := list.Flags()
	f.StringVar(&status, "status", "", "online|offline")
	f.StringVar(&q, "search", "", "substring of pc_id or hostname")
	f.StringVar(&group, "group", "", "only members of this group")
	f.StringVar(&sortBy, "sort", "", "pc_id|hostname|last_heartbeat|os_family|agent_version")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only pc_ids, one per line")
	bound = pagingFlags(list, 0)
	show := &cobra.Command{
		Use:   "show <pc_id>",
		Short: "Show one agent",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			r, err := c.GetAgent(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.emitValue(r, func(w io.Writer) error {
				return kv(w, "pc_id", r.PCID, "hostname", r.Hostname, "online", strconv.FormatBool(r.Online),
					"os", strings.TrimSpace(r.OSFamily+" "+r.OSVersion), "arch", r.Arch, "agent_version", r.AgentVersion,
					"last_heartbeat", a.when(r.LastHeartbeat), "boot_time", a.whenPtr(r.BootTime),
					"running", strconv.Itoa(r.Running), "groups", strings.Join(r.Groups, ","))
			})
		},
	}
	del := &cobra.Command{
		Use:   "delete <pc_id>",
		Short: "Forget an agent and revoke its broker credential (enrolled PCs are disconnected at once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(func(c *apiv1.Client) (any, error) {
				return nil, c.DeleteAgent(cmd.Context(), args[0])
			}, "deleted agent "+args[0])
		},
	}
	reenroll := &cobra.Command{
		Use:   "reenroll <pc_id>",
		Short: "Allow an enrolled PC to enroll again (kanade-agent enroll --force); its old credential is revoked then",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(func(c *apiv1.Client) (any, error) {
				return c.ReenrollAgent(cmd.Context(), args[0])
			}, "agent "+args[0]+" may enroll again")
		},
	}
	cmd.AddCommand(list, show, del, reenroll)
	return cmd
}
