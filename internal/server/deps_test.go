package server_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/kanade-fleet/kanade/"

// TestNothingImportsServer keeps the server the composition root: the
// parts it joins never reach back up to it. Only the binaries (cmd/...)
// and the test-support package internal/testenv may import it, and no
// production package may import internal/testenv.
func TestNothingImportsServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		if strings.HasPrefix(pkg, module+"cmd/") {
			continue
		}
		for _, imp := range imports {
			switch {
			case imp == module+"internal/server" && pkg != module+"internal/testenv":
				t.Errorf("%s imports internal/server: pass it what it needs instead", pkg)
			case imp == module+"internal/testenv" || strings.HasPrefix(imp, module+"internal/testenv/"):
				if !strings.HasPrefix(pkg, module+"internal/testenv") {
					t.Errorf("%s (not a test) imports %s", pkg, imp)
				}
			}
		}
	}
}
