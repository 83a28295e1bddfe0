package cli

import "github.com/spf13/cobra"

// inventoryCmd is a minimal `inventory` parent for the table commands.
// MERGE NOTE: the facts helper's internal/cli/inventory.go defines the
// real parent; when merging, delete this file and add
// `cmd.AddCommand(a.inventoryTableCmds()...)` to that inventoryCmd.
func (a *app) inventoryCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "inventory", Aliases: []string{"inv"}, Short: "Inventory: tables filled by inventory jobs"}
	cmd.AddCommand(a.inventoryTableCmds()...)
	return cmd
}
