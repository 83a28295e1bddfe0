package manifest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/invtable"
	"github.com/kanade-fleet/kanade/internal/manifest"
)

// TestExamples: every manifest under examples/ parses strictly and, for
// inventory jobs, declares a table (checks: a check); the sh ones whose tools this machine
// has run, and their output parses as the table's rows.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	tools := map[string]string{"software-debian.yaml": "dpkg-query", "local-admins-linux.yaml": "getent", "listening-ports-linux.yaml": "ss"}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := manifest.Parse(data)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if strings.Contains(f, "/inventory/") && m.Inventory == nil {
				t.Fatalf("%s: no inventory declaration", f)
			}
			if strings.Contains(f, "/checks/") {
				if m.Check == nil {
					t.Fatalf("%s: no check declaration", f)
				}
				if _, err := m.Check.Rule(); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			}
			tool, ok := tools[filepath.Base(f)]
			if !ok || runtime.GOOS != "linux" {
				return
			}
			if _, err := exec.LookPath(tool); err != nil {
				t.Skipf("%s not installed", tool)
			}
			out, err := exec.Command("sh", "-c", m.Execute.Script).Output()
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			inv := m.Inventory
			rows, err := invtable.Parse(string(out), invtable.Spec{Table: inv.Table, Key: inv.Key, Columns: inv.Columns})
			if err != nil {
				t.Fatalf("output does not parse: %v\n%.500s", err, out)
			}
			t.Logf("%d rows; first: %v", len(rows), rows[:min(1, len(rows))])
		})
	}
}
