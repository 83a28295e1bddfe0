package cli

import (
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

func (a *app) groupsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "groups", Aliases: []string{"group"}, Short: "Manage agent group membership"}
	var pc string
	list := &cobra.Command{
		Use:   "list [--pc P]",
		Short: "List groups with their members (or one PC's groups)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			if pc != "" {
				return a.showPCGroups(cmd, c, pc)
			}
			rows, err := c.ListGroups(cmd.Context())
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error {
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
			return a.groupChange(cmd, args[0], func(c *apiv1.Client) error {
				_, err := c.AddAgentGroup(cmd.Context(), args[0], apiv1.AddGroupRequest{Group: args[1]})
				return err
			})
		},
	}
	rm := &cobra.Command{
		Use:   "rm <pc_id> <group>",
		Short: "Remove a PC from a group",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.groupChange(cmd, args[0], func(c *apiv1.Client) error {
				_, err := c.RemoveAgentGroup(cmd.Context(), args[0], args[1])
				return err
			})
		},
	}
	set := &cobra.Command{
		Use:   "set <pc_id> [group...]",
		Short: "Replace a PC's groups (none given = no groups)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.groupChange(cmd, args[0], func(c *apiv1.Client) error {
				_, err := c.SetAgentGroups(cmd.Context(), args[0], apiv1.AgentGroups{Groups: args[1:]})
				return err
			})
		},
	}
	cmd.AddCommand(list, add, rm, set)
	return cmd
}

// groupChange applies a membership change and shows the PC's groups after it.
func (a *app) groupChange(cmd *cobra.Command, pc string, change func(c *apiv1.Client) error) error {
	c, err := a.api()
	if err != nil {
		return err
	}
	if err := change(c); err != nil {
		return err
	}
	return a.showPCGroups(cmd, c, pc)
}

func (a *app) showPCGroups(cmd *cobra.Command, c *apiv1.Client, pc string) error {
	g, err := c.GetAgentGroups(cmd.Context(), pc)
	if err != nil {
		return err
	}
	return a.emitValue(g, func(w io.Writer) error {
		t := newTable(w, "PC_ID", "GROUPS")
		t.row(pc, strings.Join(g.Groups, ","))
		return t.flush()
	})
}
