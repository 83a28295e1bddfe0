package kv_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/kanade-fleet/kanade"

// kvCalls open or create buckets and object stores (jetstream).
var kvCalls = map[string]bool{
	"KeyValue": true, "CreateKeyValue": true, "CreateOrUpdateKeyValue": true, "UpdateKeyValue": true, "DeleteKeyValue": true,
	"ObjectStore": true, "CreateObjectStore": true, "CreateOrUpdateObjectStore": true, "UpdateObjectStore": true, "DeleteObjectStore": true,
}

// nameUsers may name buckets (bus.KV*) without opening them, and why.
// None of them may open one.
var nameUsers = map[string]string{
	"internal/agent/":       "the agent reads KV through direct-get subjects ($KV.<bucket>.<key>) and must not link package kv",
	"internal/broker/":      "broker permissions grant agents the subjects of the buckets they read and watch",
	"internal/sim/fleet.go": "simulated agents read their groups the way the agent does (direct get)",
}

// TestOnlyKVOpensBuckets fails if any non-test Go file outside internal/kv
// and internal/bus opens a KV bucket or object store, or names a bucket
// (bus.KV* / bus.Obj*) outside the few direct-get users above.
func TestOnlyKVOpensBuckets(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
		if d.IsDir() {
			switch d.Name() {
			case "testdata", "node_modules", "vendor", ".git":
				return filepath.SkipDir
			}
			if rel == "internal/kv" || rel == "internal/bus" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		checkFile(t, path, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("walked only %d files from %s: is the root right?", files, root)
	}
}

func checkFile(t *testing.T, path, rel string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Errorf("parse %s: %v", rel, err)
		return
	}
	busName := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == module+"/internal/bus" {
			busName = "bus"
			if imp.Name != nil {
				busName = imp.Name.Name
			}
		}
	}
	mayName := false
	for prefix := range nameUsers {
		if strings.HasPrefix(rel, prefix) {
			mayName = true
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && kvCalls[sel.Sel.Name] {
				t.Errorf("%s: calls .%s(: only internal/kv opens KV buckets and object stores", fset.Position(n.Pos()), sel.Sel.Name)
			}
		case *ast.SelectorExpr:
			x, ok := n.X.(*ast.Ident)
			if !ok || busName == "" || x.Name != busName || mayName {
				return true
			}
			if name := n.Sel.Name; strings.HasPrefix(name, "KV") || strings.HasPrefix(name, "Obj") {
				t.Errorf("%s: names bus.%s: bucket names are internal/kv's business", fset.Position(n.Pos()), name)
			}
		}
		return true
	})
}
