package rotlog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.log")
	w, err := Open(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		fmt.Fprintf(w, "line %02d ------------------\n", i) // 28 bytes
	}
	_ = w.Close()
	names, _ := os.ReadDir(dir)
	if len(names) != 3 {
		t.Fatalf("files %v", names)
	}
	for _, n := range []string{"agent.log", "agent.log.1", "agent.log.2"} {
		st, err := os.Stat(filepath.Join(dir, n))
		if err != nil || st.Size() > 100 {
			t.Fatalf("%s: %v %v", n, st, err)
		}
	}
	cur, _ := os.ReadFile(path)
	if !strings.HasSuffix(string(cur), "line 19 ------------------\n") {
		t.Fatalf("%q", cur)
	}
	// Reopen appends and keeps counting the existing size.
	w, _ = Open(path, 100, 2)
	fmt.Fprintf(w, "line 20 ------------------\n")
	fmt.Fprintf(w, "line 21 ------------------\n")
	_ = w.Close()
	prev, _ := os.ReadFile(path + ".1")
	if !strings.Contains(string(prev), "line 19") {
		t.Fatalf("%q", prev)
	}
}
