package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/wire"
)

func (a *app) agentsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "agents", Aliases: []string{"agent"}, Short: "List and inspect agents"}
	var status, q, group, sortBy, updateState, version, quarantined string
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
			if updateState != "" && !slices.Contains(wire.UpdateStates, updateState) {
				return usagef("--update-state %q: want one of %s", updateState, strings.Join(wire.UpdateStates, ", "))
			}
			aq := apiv1.AgentQuery{Status: apiv1.AgentStatus(status), Q: q, Group: group, Sort: sortBy,
				UpdateState: updateState, Version: version, Quarantined: quarantined}
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
				if a.wide() {
					// Self-update (SPEC §13): the state, the version this PC
					// rolled back from, and why the last attempt failed.
					t := newTable(w, "PC_ID", "HOSTNAME", "STATUS", "OS", "ARCH", "VERSION", "UPDATE", "QUARANTINED", "RUNNING",
						"LAST_HEARTBEAT", "GROUPS", "UPDATE_ERROR")
					for _, r := range rows {
						t.row(r.PCID, r.Hostname, agentStatus(r), strings.TrimSpace(r.OSFamily+" "+r.OSVersion), r.Arch, r.AgentVersion,
							r.UpdateState, r.QuarantinedVersion, strconv.Itoa(r.Running), a.when(r.LastHeartbeat),
							strings.Join(r.Groups, ","), truncate(r.UpdateError, updateErrorWidth))
					}
					return t.flush()
				}
				t := newTable(w, "PC_ID", "HOSTNAME", "STATUS", "OS", "ARCH", "AGENT", "RUNNING", "LAST_HEARTBEAT", "GROUPS")
				for _, r := range rows {
					t.row(r.PCID, r.Hostname, agentStatus(r), strings.TrimSpace(r.OSFamily+" "+r.OSVersion), r.Arch, r.AgentVersion,
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
	f.StringVar(&updateState, "update-state", "", "self-update state: "+strings.Join(wire.UpdateStates, "|"))
	f.StringVar(&version, "version", "", "only agents running this agent_version (exact)")
	f.StringVar(&quarantined, "quarantined", "", "only agents that quarantined this version (exact)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only pc_ids, one per line")
	bound = pagingFlags(list, 0)
	list.Example = "  kanade agents list -o wide --group canary\n  kanade agents list --update-state failed -o wide\n  kanade agents list --quarantined 1.4.0 -q"
	show := &cobra.Command{
		Use:   "show <pc_id>",
		Short: "Show one agent (a unique prefix of the pc_id will do)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			id, err := resolvePCID(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			r, err := c.GetAgent(cmd.Context(), id)
			if err != nil {
				return notFound(err, "agent", id)
			}
			return a.emitValue(r, func(w io.Writer) error {
				return kv(w, "pc_id", r.PCID, "hostname", r.Hostname, "online", strconv.FormatBool(r.Online),
					"os", strings.TrimSpace(r.OSFamily+" "+r.OSVersion), "arch", r.Arch, "agent_version", r.AgentVersion,
					"last_heartbeat", a.when(r.LastHeartbeat), "boot_time", a.whenPtr(r.BootTime),
					"running", strconv.Itoa(r.Running), "groups", strings.Join(r.Groups, ","),
					"update_state", r.UpdateState, "update_error", r.UpdateError,
					"quarantined_version", r.QuarantinedVersion)
			})
		},
	}
	del := &cobra.Command{
		Use:   "delete <pc_id>",
		Short: "Forget an agent and revoke its broker credential (enrolled PCs are disconnected at once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(func(c *apiv1.Client) (any, error) {
				return nil, notFound(c.DeleteAgent(cmd.Context(), args[0]), "agent", args[0])
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
	versions := &cobra.Command{
		Use:   "versions",
		Short: "The fleet's agent versions: PCs, online, and where their self-update stands",
		Long: `One row per agent version: how many PCs run it, how many of them are online, how
many are in each update_state (see docs/agent.md), and how many PCs quarantined that
version (rolled back from it; they run another one). PCs whose agent is older than
self-update report no state and count only under AGENTS.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			vs, err := c.ListAgentVersions(cmd.Context())
			if err != nil {
				return err
			}
			return a.emitValue(vs, func(w io.Writer) error {
				t := newTable(w, "VERSION", "AGENTS", "ONLINE", "CURRENT", "DOWNLOADING", "RESTARTING", "FAILED", "QUARANTINED")
				for _, v := range vs {
					n := func(state string) string { return strconv.Itoa(v.States[state]) }
					t.row(v.Version, strconv.Itoa(v.Agents), strconv.Itoa(v.Online), n(wire.UpdateCurrent), n(wire.UpdateDownloading),
						n(wire.UpdateRestarting), n(wire.UpdateFailed), strconv.Itoa(v.Quarantined))
				}
				return t.flush()
			})
		},
	}
	cmd.AddCommand(list, show, versions, del, reenroll)
	return cmd
}

// updateErrorWidth bounds UPDATE_ERROR in -o wide (the whole error is in
// agents show and -o json).
const updateErrorWidth = 60

func agentStatus(r apiv1.Agent) string {
	if r.Online {
		return string(apiv1.AgentOnline)
	}
	return string(apiv1.AgentOffline)
}

// truncate shortens s to n runes, marking the cut.
func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
