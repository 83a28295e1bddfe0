package cli

import (
	"context"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

// inventoryTableCmds are `kanade inventory tables` and `kanade inventory
// table TABLE` (SPEC §14: the rows inventory jobs reported), attached to
// the `inventory` parent command.
func (a *app) inventoryTableCmds() []*cobra.Command {
	tables := &cobra.Command{
		Use:   "tables",
		Short: "List the tables inventory jobs have filled, with their columns, PCs and rows",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			rows, err := c.ListInventoryTables(cmd.Context())
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error {
				t := newTable(w, "TABLE", "PCS", "ROWS", "COLUMNS")
				for _, r := range rows {
					t.row(r.Table, strconv.Itoa(r.PCs), strconv.Itoa(r.Rows), strings.Join(r.Columns, ","))
				}
				return t.flush()
			})
		},
	}
	var q apiv1.InventoryRowQuery
	var bound func() (int, error)
	table := &cobra.Command{
		Use:   "table TABLE [--where col:op:val ...] [--pc P] [--q S] [--group G]",
		Short: "List an inventory table's rows across PCs (ops eq ne lt le gt ge contains; versions compare as versions)",
		Example: `  kanade inventory table software --where name:eq:"Google Chrome" --where version:lt:120.0.1
  kanade inventory table software --q chrome --group lab -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			table := args[0]
			var cols []string
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.InventoryRow], error) {
				if cols == nil {
					if ts, err := c.ListInventoryTables(ctx); err == nil {
						for _, t := range ts {
							if t.Table == table {
								cols = t.Columns
							}
						}
					}
				}
				q.Page = p
				return c.ListInventoryRows(ctx, table, q)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error {
				if cols == nil { // a table no job filled: keys are all there is
					cols = []string{}
				}
				t := newTable(w, append([]string{"PC"}, strings.Split(strings.ToUpper(strings.Join(cols, "\x00")), "\x00")...)...)
				for _, r := range rows {
					cells := []string{r.PCID}
					for _, c := range cols {
						cells = append(cells, r.Row[c])
					}
					t.row(cells...)
				}
				return t.flush()
			})
		},
	}
	f := table.Flags()
	f.StringArrayVar(&q.Where, "where", nil, "column:op:value (repeatable; all must hold)")
	f.StringVar(&q.PCID, "pc", "", "only this PC")
	f.StringVar(&q.Q, "q", "", "a substring of any column (case-insensitive)")
	f.StringVar(&q.Group, "group", "", "only PCs of this group")
	bound = pagingFlags(table, 50)
	return []*cobra.Command{tables, table}
}
