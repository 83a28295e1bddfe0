package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bytesize"
)

// inventorySubs are the constructors of `kanade inventory`'s subcommands.
// A file adding one appends its constructor from an init function:
//
//	func init() { inventorySubs = append(inventorySubs, (*app).inventoryTableCmd) }
var inventorySubs = []func(*app) *cobra.Command{(*app).inventoryFactsCmd, (*app).inventoryHistoryCmd}

// inventoryCmd is `kanade inventory` (SPEC §14): what is on every PC and
// how it changed.
func (a *app) inventoryCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "inventory", Aliases: []string{"inv"}, Short: "What every PC reports about itself, the tables inventory jobs fill, and how they changed"}
	for _, sub := range inventorySubs {
		cmd.AddCommand(sub(a))
	}
	cmd.AddCommand(a.inventoryTableCmds()...)
	return cmd
}

func (a *app) inventoryFactsCmd() *cobra.Command {
	var q apiv1.FactsQuery
	var bound func() (int, error)
	cmd := &cobra.Command{
		Use:   "facts",
		Short: "List the PCs' built-in facts (OS, CPU, memory, disks, users), in pc_id order",
		Long: "List each PC's latest built-in facts, reported by its agent at start, every inventory_interval\n" +
			"(default 6h) and when one changes. DISKS is the number of filesystems and the free space and\n" +
			"size of the largest; -o wide adds the kernel, architecture, interfaces and boot time.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.AgentFacts], error) {
				q.Page = p
				return c.ListInventoryFacts(ctx, q)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error { return a.factsTable(w, rows) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.PCID, "pc", "", "only this PC")
	f.StringVar(&q.Q, "q", "", "substring of pc_id or hostname")
	f.StringVar(&q.Group, "group", "", "only members of this group")
	bound = pagingFlags(cmd, 0)
	cmd.Example = "  kanade inventory facts --group canary\n  kanade inventory facts --pc pc-0042 -o yaml"
	return cmd
}

func (a *app) factsTable(w io.Writer, rows []apiv1.AgentFacts) error {
	cols := []string{"PC_ID", "HOSTNAME", "OS", "BUILD", "CPU", "CORES", "MEMORY", "DISKS", "USERS", "COLLECTED"}
	if a.wide() {
		cols = append(cols, "KERNEL", "ARCH", "IPS", "BOOTED", "TIMEZONE", "AGENT")
	}
	t := newTable(w, cols...)
	for _, r := range rows {
		cells := []string{r.PCID, r.Hostname, strings.TrimSpace(r.OSFamily + " " + r.OSVersion), r.OSBuild, r.CPUModel,
			strconv.Itoa(r.CPUCores), bytesize.Format(r.MemoryBytes), disksText(r.Disks), strings.Join(r.LoggedInUsers, ","),
			a.when(r.CollectedAt)}
		if a.wide() {
			var ips []string
			for _, i := range r.Interfaces {
				ips = append(ips, i.IPs...)
			}
			cells = append(cells, r.Kernel, r.Arch, strings.Join(ips, ","), a.whenPtr(r.BootTime), r.Timezone, r.AgentVersion)
		}
		t.row(cells...)
	}
	return t.flush()
}

// disksText is "<count> (<free> free of <size>)" of the largest disk.
func disksText(ds []apiv1.FactDisk) string {
	if len(ds) == 0 {
		return "0"
	}
	big := ds[0]
	for _, d := range ds[1:] {
		if d.SizeBytes > big.SizeBytes {
			big = d
		}
	}
	return fmt.Sprintf("%d (%s free of %s)", len(ds), bytesize.Format(big.FreeBytes), bytesize.Format(big.SizeBytes))
}

func (a *app) inventoryHistoryCmd() *cobra.Command {
	var q apiv1.HistoryQuery
	var bound func() (int, error)
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List inventory changes (fact fields, inventory table rows), newest first",
		Long: "List inventory changes, newest first: a built-in fact that changed (table facts; free disk space\n" +
			"is not a change) or a row of an inventory job's table added, removed or changed. OLD and NEW are\n" +
			"JSON values.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.InventoryChange], error) {
				q.Page = p
				return c.ListInventoryHistory(ctx, q)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error {
				t := newTable(w, "AT", "PC_ID", "TABLE", "KEY", "FIELD", "CHANGE", "OLD", "NEW")
				for _, r := range rows {
					t.row(a.when(r.At), r.PCID, r.Table, r.Key, r.Field, r.Change, jsonCell(r.Old), jsonCell(r.New))
				}
				return t.flush()
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.PCID, "pc", "", "only this PC")
	f.StringVar(&q.Table, "table", "", "only this table (facts, or an inventory job's table)")
	f.StringVar(&q.Since, "since", "", "only changes since this RFC 3339 time or duration ago (24h)")
	bound = pagingFlags(cmd, 50)
	cmd.Example = "  kanade inventory history --pc pc-0042 --since 24h\n  kanade inventory history --table facts --all -o json"
	return cmd
}

// jsonCell is a JSON value for a table cell: "" for null, long values cut.
func jsonCell(v []byte) string {
	s := string(v)
	if s == "null" {
		return ""
	}
	return truncate(s, 60)
}
