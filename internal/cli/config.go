package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/release"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// configFieldNames lists the ConfigScope fields for help and errors.
func configFieldNames() string { return strings.Join(wire.ConfigFieldNames(), ", ") }

// fieldValues is v's JSON object as a map, to show its set fields by name
// in the order of wire.ConfigFields.
func fieldValues(v any) map[string]any {
	m := map[string]any{}
	b, _ := json.Marshal(v)
	_ = json.Unmarshal(b, &m)
	return m
}

func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Layered agent configuration (global, --group, --pc) and the CLI's contexts (set-context, use-context)",
		Long: `Agent configuration is layered: built-in defaults, then the global scope, then
each group the PC is in (alphabetical, later wins), then the PC's own scope.
get/set/unset work on one scope: global by default, --group G or --pc P.
Fields: ` + configFieldNames() + `.

The CLI's own contexts (backends, tokens) are set-context, use-context,
current-context, get-contexts and delete-context.`,
	}
	var group, pc string
	scope := func() (apiv1.Scope, string, error) {
		switch {
		case group != "" && pc != "":
			return apiv1.Scope{}, "", usagef("give --group or --pc, not both")
		case group != "":
			return apiv1.Scope{Group: group}, "group " + group, nil
		case pc != "":
			return apiv1.Scope{PC: pc}, "pc " + pc, nil
		default:
			return apiv1.Scope{}, "global", nil
		}
	}
	show := func(s apiv1.ConfigScope, name string) error {
		m := fieldValues(s)
		return a.emitValue(s, func(w io.Writer) error {
			t := newTable(w, "SCOPE", "FIELD", "VALUE")
			for _, f := range wire.ConfigFields {
				v, ok := m[f.Name]
				if !ok || v == nil {
					continue
				}
				t.row(name, f.Name, fmt.Sprint(v))
			}
			return t.flush()
		})
	}
	get := &cobra.Command{
		Use:   "get [--group G | --pc P]",
		Short: "Show the fields set in one scope",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc, name, err := scope()
			if err != nil {
				return err
			}
			c, err := a.api()
			if err != nil {
				return err
			}
			s, err := c.GetConfig(cmd.Context(), sc)
			if ae, ok := err.(*apiv1.Error); ok && ae.Status == http.StatusNotFound && ae.Field == "" {
				s, err = apiv1.ConfigScope{}, nil // a scope never set is empty
			}
			if err != nil {
				return err
			}
			return show(s, name)
		},
	}
	set := &cobra.Command{
		Use:   "set <field>=<value>... [--group G | --pc P]",
		Short: "Set fields in one scope (others are kept)",
		Example: "  kanade config set heartbeat_interval=15s\n  kanade config set max_local_concurrent=2 --group kiosks\n" +
			"  kanade config set target_version=1.4.0 --group canary   # start a rollout (docs/operations.md)",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, name, err := scope()
			if err != nil {
				return err
			}
			upd := apiv1.ConfigPatch{}
			for _, arg := range args {
				k, v, ok := strings.Cut(arg, "=")
				if !ok {
					return usagef("%q: want field=value", arg)
				}
				f, known := wire.LookupConfigField(k)
				if !known {
					return usagef("unknown config field %q: want one of %s", k, configFieldNames())
				}
				if f.Integer {
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
			if v, ok := upd["target_version"].(string); ok {
				if err := release.ValidVersion(v); err != nil {
					return usagef("invalid config: target_version: %s (to stop a rollout: kanade config unset target_version)",
						strings.TrimPrefix(err.Error(), "version: "))
				}
			}
			// PATCH merges server-side with compare-and-set, so two operators
			// editing different fields at once both win.
			return a.patchConfig(cmd, sc, name, upd, show)
		},
	}
	unset := &cobra.Command{
		Use:     "unset <field>... [--group G | --pc P]",
		Short:   "Remove fields from one scope (they then come from a lower layer)",
		Example: "  kanade config unset target_version --group canary   # halt a rollout there",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, name, err := scope()
			if err != nil {
				return err
			}
			for _, k := range args {
				if _, known := wire.LookupConfigField(k); !known {
					return usagef("unknown config field %q: want one of %s", k, configFieldNames())
				}
			}
			upd := apiv1.ConfigPatch{}
			for _, k := range args {
				upd[k] = nil // null unsets the field
			}
			return a.patchConfig(cmd, sc, name, upd, show)
		},
	}
	clear := &cobra.Command{
		Use:   "clear (--group G | --pc P)",
		Short: "Delete a group's or a PC's whole scope",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc, name, err := scope()
			if err != nil {
				return err
			}
			if sc == (apiv1.Scope{}) {
				return usagef("config clear needs --group G or --pc P (unset global fields one by one)")
			}
			return a.simple(func(c *apiv1.Client) (any, error) { return nil, c.DeleteConfig(cmd.Context(), sc) }, "cleared the config of "+name)
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
			c, err := a.api()
			if err != nil {
				return err
			}
			e, err := c.GetEffectiveConfig(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			eff := fieldValues(e.Effective)
			return a.emitValue(e, func(w io.Writer) error {
				t := newTable(w, "FIELD", "VALUE")
				for _, f := range wire.ConfigFields {
					if v, ok := eff[f.Name]; ok && v != nil {
						t.row(f.Name, fmt.Sprint(v))
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
	cmd.AddCommand(a.contextCmds()...)
	return cmd
}

func (a *app) patchConfig(cmd *cobra.Command, sc apiv1.Scope, name string, p apiv1.ConfigPatch, show func(apiv1.ConfigScope, string) error) error {
	c, err := a.api()
	if err != nil {
		return err
	}
	s, err := c.PatchConfig(cmd.Context(), sc, p)
	if err != nil {
		return err
	}
	return show(s, name)
}
