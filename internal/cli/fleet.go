package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/wire"
)

// Agent is GET /api/agents rows.
type Agent struct {
	PCID          string     `json:"pc_id"`
	Hostname      string     `json:"hostname"`
	OSFamily      string     `json:"os_family"`
	OSVersion     string     `json:"os_version"`
	Arch          string     `json:"arch"`
	AgentVersion  string     `json:"agent_version"`
	LastHeartbeat time.Time  `json:"last_heartbeat"`
	BootTime      *time.Time `json:"boot_time"`
	Running       int        `json:"running"`
	Online        bool       `json:"online"`
	Groups        []string   `json:"groups"`
}

func (a *app) agentsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "agents", Aliases: []string{"agent"}, Short: "List and inspect agents"}
	var status, q, group, sortBy string
	var quiet bool
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List agents (online = heartbeat seen recently)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if status != "" && status != "online" && status != "offline" {
				return usagef("--status %q: want online or offline", status)
			}
			qv := url.Values{}
			setIf(qv, "status", status)
			setIf(qv, "q", q)
			setIf(qv, "group", group)
			setIf(qv, "sort", sortBy)
			raw, err := a.listAll(cmd.Context(), "/api/agents", qv, limit)
			if err != nil {
				return err
			}
			var rows []Agent
			if err := decodeBody(&response{Body: raw}, "/api/agents", &rows); err != nil {
				return err
			}
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(a.opt.Out, r.PCID)
				}
				return nil
			}
			return a.emit(raw, func(w io.Writer) error {
				t := newTable(w, "PC_ID", "HOSTNAME", "STATUS", "OS", "ARCH", "AGENT", "RUNNING", "LAST_HEARTBEAT", "GROUPS")
				for _, r := range rows {
					st := "offline"
					if r.Online {
						st = "online"
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
	f.IntVar(&limit, "limit", 0, "at most this many (0 = all)")
	show := &cobra.Command{
		Use:   "show <pc_id>",
		Short: "Show one agent",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/api/agents/" + pathEsc(args[0])
			res, err := a.call(cmd.Context(), http.MethodGet, path, nil, nil, "")
			if err != nil {
				return err
			}
			var r Agent
			if err := decodeBody(res, path, &r); err != nil {
				return err
			}
			return a.emit(res.Body, func(w io.Writer) error {
				return kv(w, "pc_id", r.PCID, "hostname", r.Hostname, "online", strconv.FormatBool(r.Online),
					"os", strings.TrimSpace(r.OSFamily+" "+r.OSVersion), "arch", r.Arch, "agent_version", r.AgentVersion,
					"last_heartbeat", a.when(r.LastHeartbeat), "boot_time", a.whenPtr(r.BootTime),
					"running", strconv.Itoa(r.Running), "groups", strings.Join(r.Groups, ","))
			})
		},
	}
	del := &cobra.Command{
		Use:   "delete <pc_id>",
		Short: "Forget an agent (it reappears if it sends a heartbeat again)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.simple(cmd.Context(), http.MethodDelete, "/api/agents/"+pathEsc(args[0]), nil, "deleted agent "+args[0])
		},
	}
	cmd.AddCommand(list, show, del)
	return cmd
}

func (a *app) resultsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "results", Aliases: []string{"result"}, Short: "List and inspect per-PC results"}
	var execID, pc, job, status, since string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List results, newest first (without output; see `results show`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch status {
			case "", "running", "success", "failure", "skipped":
			default:
				return usagef("--status %q: want running, success, failure or skipped", status)
			}
			q := url.Values{}
			setIf(q, "exec_id", execID)
			setIf(q, "pc_id", pc)
			setIf(q, "job_id", job)
			setIf(q, "status", status)
			setIf(q, "since", since)
			raw, err := a.listAll(cmd.Context(), "/api/results", q, limit)
			if err != nil {
				return err
			}
			var rows []Result
			if err := decodeBody(&response{Body: raw}, "/api/results", &rows); err != nil {
				return err
			}
			return a.emit(raw, func(w io.Writer) error { return a.resultsTable(w, rows) })
		},
	}
	f := list.Flags()
	f.StringVar(&execID, "exec", "", "only this execution")
	f.StringVar(&pc, "pc", "", "only this PC")
	f.StringVar(&job, "job", "", "only this job")
	f.StringVar(&status, "status", "", "running|success|failure|skipped")
	f.StringVar(&since, "since", "", "only results since this RFC 3339 time or duration ago (24h)")
	f.IntVar(&limit, "limit", 50, "at most this many (0 = all)")
	show := &cobra.Command{
		Use:   "show <result_id>",
		Short: "Show one result with its stdout and stderr",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/api/results/" + pathEsc(args[0])
			res, err := a.call(cmd.Context(), http.MethodGet, path, nil, nil, "")
			if err != nil {
				return err
			}
			var r Result
			if err := decodeBody(res, path, &r); err != nil {
				return err
			}
			return a.emit(res.Body, func(w io.Writer) error {
				exit := ""
				if r.ExitCode != nil {
					exit = strconv.Itoa(*r.ExitCode)
				}
				if err := kv(w, "result_id", r.ResultID, "exec_id", r.ExecID, "pc_id", r.PCID, "job", r.JobID+" "+r.Version,
					"status", r.Status, "exit_code", exit, "started", a.when(r.StartedAt), "finished", a.whenPtr(r.FinishedAt)); err != nil {
					return err
				}
				for _, s := range []struct {
					name string
					v    *string
				}{{"stdout", r.Stdout}, {"stderr", r.Stderr}} {
					if s.v != nil && *s.v != "" {
						fmt.Fprintf(w, "--- %s ---\n%s", s.name, *s.v)
						if !strings.HasSuffix(*s.v, "\n") {
							fmt.Fprintln(w)
						}
					}
				}
				return nil
			})
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}

func (a *app) groupsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "groups", Aliases: []string{"group"}, Short: "Manage agent group membership"}
	var pc string
	list := &cobra.Command{
		Use:   "list [--pc P]",
		Short: "List groups with their members (or one PC's groups)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pc != "" {
				return a.showPCGroups(cmd, pc)
			}
			res, err := a.call(cmd.Context(), http.MethodGet, "/api/groups", nil, nil, "")
			if err != nil {
				return err
			}
			var rows []struct {
				Group   string   `json:"group"`
				Members []string `json:"members"`
			}
			if err := decodeBody(res, "/api/groups", &rows); err != nil {
				return err
			}
			return a.emit(res.Body, func(w io.Writer) error {
				t := newTable(w, "GROUP", "COUNT", "MEMBERS")
				for _, g := range rows {
					t.row(g.Group, strconv.Itoa(len(g.Members)), strings.Join(g.Members, ","))
				}
				return t.flush()
			})
		},
	}
	list.Flags().StringVar(&pc, "pc", "", "list this PC's groups")
	add := &cobra.Command{
		Use:   "add <pc_id> <group>",
		Short: "Add a PC to a group",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.groupChange(cmd, http.MethodPost, "/api/agents/"+pathEsc(args[0])+"/groups", map[string]string{"group": args[1]}, args[0])
		},
	}
	rm := &cobra.Command{
		Use:   "rm <pc_id> <group>",
		Short: "Remove a PC from a group",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.groupChange(cmd, http.MethodDelete, "/api/agents/"+pathEsc(args[0])+"/groups/"+pathEsc(args[1]), nil, args[0])
		},
	}
	set := &cobra.Command{
		Use:   "set <pc_id> [group...]",
		Short: "Replace a PC's groups (none given = no groups)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			groups := args[1:]
			if groups == nil {
				groups = []string{}
			}
			return a.groupChange(cmd, http.MethodPut, "/api/agents/"+pathEsc(args[0])+"/groups", map[string][]string{"groups": groups}, args[0])
		},
	}
	cmd.AddCommand(list, add, rm, set)
	return cmd
}

// groupChange applies a membership change and shows the PC's groups after it.
func (a *app) groupChange(cmd *cobra.Command, method, path string, body any, pc string) error {
	if _, err := a.call(cmd.Context(), method, path, nil, body, ""); err != nil {
		return err
	}
	return a.showPCGroups(cmd, pc)
}

func (a *app) showPCGroups(cmd *cobra.Command, pc string) error {
	path := "/api/agents/" + pathEsc(pc) + "/groups"
	res, err := a.call(cmd.Context(), http.MethodGet, path, nil, nil, "")
	if err != nil {
		return err
	}
	var g struct {
		Groups []string `json:"groups"`
	}
	if err := decodeBody(res, path, &g); err != nil {
		return err
	}
	return a.emit(res.Body, func(w io.Writer) error {
		t := newTable(w, "PC_ID", "GROUPS")
		t.row(pc, strings.Join(g.Groups, ","))
		return t.flush()
	})
}

// configFields are the ConfigScope fields and whether each is an integer.
var configFields = map[string]bool{
	"heartbeat_interval":   false,
	"max_local_concurrent": true,
	"target_version":       false,
	"outbox_max_entries":   true,
}

func configFieldNames() string {
	return "heartbeat_interval, max_local_concurrent, target_version, outbox_max_entries"
}

func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Layered agent configuration: global, per group (--group) or per PC (--pc)",
		Long: `Agent configuration is layered: built-in defaults, then the global scope, then
each group the PC is in (alphabetical, later wins), then the PC's own scope.
get/set/unset work on one scope: global by default, --group G or --pc P.
Fields: ` + configFieldNames() + `.`,
	}
	var group, pc string
	scope := func() (string, string, error) {
		switch {
		case group != "" && pc != "":
			return "", "", usagef("give --group or --pc, not both")
		case group != "":
			return "/api/groups/" + pathEsc(group) + "/config", "group " + group, nil
		case pc != "":
			return "/api/pcs/" + pathEsc(pc) + "/config", "pc " + pc, nil
		default:
			return "/api/config", "global", nil
		}
	}
	current := func(cmd *cobra.Command, path string) (map[string]any, []byte, error) {
		res, err := a.call(cmd.Context(), http.MethodGet, path, nil, nil, "")
		if err != nil {
			if ae, ok := err.(*apiError); ok && ae.Status == http.StatusNotFound && ae.Field == "" {
				return map[string]any{}, []byte("{}"), nil
			}
			return nil, nil, err
		}
		m := map[string]any{}
		if len(strings.TrimSpace(string(res.Body))) > 0 && strings.TrimSpace(string(res.Body)) != "null" {
			if err := decodeBody(res, path, &m); err != nil {
				return nil, nil, err
			}
		}
		return m, res.Body, nil
	}
	show := func(m map[string]any, raw []byte, name string) error {
		return a.emit(raw, func(w io.Writer) error {
			t := newTable(w, "SCOPE", "FIELD", "VALUE")
			for _, k := range []string{"heartbeat_interval", "max_local_concurrent", "target_version", "outbox_max_entries"} {
				v, ok := m[k]
				if !ok || v == nil {
					continue
				}
				t.row(name, k, fmt.Sprint(v))
			}
			return t.flush()
		})
	}
	get := &cobra.Command{
		Use:   "get [--group G | --pc P]",
		Short: "Show the fields set in one scope",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, name, err := scope()
			if err != nil {
				return err
			}
			m, raw, err := current(cmd, path)
			if err != nil {
				return err
			}
			return show(m, raw, name)
		},
	}
	set := &cobra.Command{
		Use:     "set <field>=<value>... [--group G | --pc P]",
		Short:   "Set fields in one scope (others are kept)",
		Example: "  kanade config set heartbeat_interval=15s\n  kanade config set max_local_concurrent=2 --group kiosks",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, name, err := scope()
			if err != nil {
				return err
			}
			upd := map[string]any{}
			for _, arg := range args {
				k, v, ok := strings.Cut(arg, "=")
				if !ok {
					return usagef("%q: want field=value", arg)
				}
				isInt, known := configFields[k]
				if !known {
					return usagef("unknown config field %q: want one of %s", k, configFieldNames())
				}
				if isInt {
					n, err := strconv.Atoi(v)
					if err != nil {
						return usagef("%s=%q: want an integer", k, v)
					}
					upd[k] = n
				} else {
					upd[k] = v
				}
			}
			// Check the values locally so a typo fails before any request.
			j, _ := json.Marshal(upd)
			if _, err := wire.DecodeConfigScope(j); err != nil {
				return usagef("invalid config: %s", fieldMsg(err))
			}
			// PATCH merges server-side with compare-and-set, so two operators
			// editing different fields at once both win.
			return a.patchConfig(cmd, path, name, upd, show)
		},
	}
	unset := &cobra.Command{
		Use:   "unset <field>... [--group G | --pc P]",
		Short: "Remove fields from one scope (they then come from a lower layer)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, name, err := scope()
			if err != nil {
				return err
			}
			for _, k := range args {
				if _, known := configFields[k]; !known {
					return usagef("unknown config field %q: want one of %s", k, configFieldNames())
				}
			}
			upd := map[string]any{}
			for _, k := range args {
				upd[k] = nil // null unsets the field
			}
			return a.patchConfig(cmd, path, name, upd, show)
		},
	}
	clear := &cobra.Command{
		Use:   "clear (--group G | --pc P)",
		Short: "Delete a group's or a PC's whole scope",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, name, err := scope()
			if err != nil {
				return err
			}
			if path == "/api/config" {
				return usagef("config clear needs --group G or --pc P (unset global fields one by one)")
			}
			return a.simple(cmd.Context(), http.MethodDelete, path, nil, "cleared the config of "+name)
		},
	}
	for _, c := range []*cobra.Command{get, set, unset, clear} {
		c.Flags().StringVar(&group, "group", "", "the scope of this group")
		c.Flags().StringVar(&pc, "pc", "", "the scope of this PC")
	}
	effective := &cobra.Command{
		Use:   "effective <pc_id>",
		Short: "Show the configuration a PC resolves to, with conflict warnings",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/api/agents/" + pathEsc(args[0]) + "/effective_config"
			res, err := a.call(cmd.Context(), http.MethodGet, path, nil, nil, "")
			if err != nil {
				return err
			}
			var e struct {
				Effective map[string]any `json:"effective"`
				Warnings  []string       `json:"warnings"`
			}
			if err := decodeBody(res, path, &e); err != nil {
				return err
			}
			return a.emit(res.Body, func(w io.Writer) error {
				t := newTable(w, "FIELD", "VALUE")
				for _, k := range []string{"heartbeat_interval", "max_local_concurrent", "target_version", "outbox_max_entries"} {
					if v, ok := e.Effective[k]; ok && v != nil {
						t.row(k, fmt.Sprint(v))
					}
				}
				if err := t.flush(); err != nil {
					return err
				}
				for _, w2 := range e.Warnings {
					fmt.Fprintf(w, "warning: %s\n", w2)
				}
				return nil
			})
		},
	}
	cmd.AddCommand(get, set, unset, clear, effective)
	return cmd
}

func (a *app) patchConfig(cmd *cobra.Command, path, name string, m map[string]any, show func(map[string]any, []byte, string) error) error {
	res, err := a.call(cmd.Context(), http.MethodPatch, path, nil, m, "")
	if err != nil {
		return err
	}
	raw := res.Body
	if len(strings.TrimSpace(string(raw))) == 0 {
		raw, _ = json.Marshal(m)
	} else {
		m2 := map[string]any{}
		if json.Unmarshal(raw, &m2) == nil {
			m = m2
		}
	}
	return show(m, raw, name)
}

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
			body := map[string]any{"reason": reason}
			if until != "" {
				t, err := time.Parse(time.RFC3339, until)
				if err != nil {
					d, derr := time.ParseDuration(until)
					if derr != nil || d <= 0 {
						return usagef("--until %q: want an RFC 3339 time or a positive duration such as 48h", until)
					}
					t = a.opt.Now().Add(d)
				}
				body["until"] = t.UTC().Format(time.RFC3339)
			}
			if _, err := a.call(cmd.Context(), http.MethodPut, "/api/freeze", nil, body, ""); err != nil {
				return err
			}
			return a.showFreeze(cmd)
		},
	}
	set.Flags().StringVar(&reason, "reason", "", "why (shown to operators and in the audit log)")
	set.Flags().StringVar(&until, "until", "", "end of the freeze (default: until cleared)")
	clear := &cobra.Command{
		Use:   "clear",
		Short: "End the freeze",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := a.call(cmd.Context(), http.MethodDelete, "/api/freeze", nil, nil, ""); err != nil {
				return err
			}
			return a.showFreeze(cmd)
		},
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Show whether the fleet is frozen",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.showFreeze(cmd) },
	}
	cmd.AddCommand(set, clear, show)
	return cmd
}

func (a *app) showFreeze(cmd *cobra.Command) error {
	res, err := a.call(cmd.Context(), http.MethodGet, "/api/freeze", nil, nil, "")
	if err != nil {
		return err
	}
	var f struct {
		Frozen bool       `json:"frozen"`
		Reason string     `json:"reason"`
		By     string     `json:"by"`
		Since  *time.Time `json:"since"`
		Until  *time.Time `json:"until"`
	}
	if err := decodeBody(res, "/api/freeze", &f); err != nil {
		return err
	}
	return a.emit(res.Body, func(w io.Writer) error {
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
