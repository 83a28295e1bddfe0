//go:build unix

package broker

import (
	"os"
	"path/filepath"
	"testing"
)

// The file-storage limit leaves the reserve and the database's own size
// free on a shared disk, and never drops below JetStream's usage plus a
// margin.
func TestStoreLimitAccountsForTheDatabase(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "jetstream")
	db := filepath.Join(dir, "backend.db")
	const dbSize = 256 << 20 // sparse: counted by size, costs no space
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(db, dbSize); err != nil {
		t.Fatal(err)
	}
	const reserve = 8 << 20
	without, ok, err := storeLimit(store, nil, reserve)
	if err != nil || !ok {
		t.Fatalf("limit: %v %v", ok, err)
	}
	with, _, _ := storeLimit(store, []string{db, db + "-wal"}, reserve)
	free, _, _, _ := diskStat(store)
	// Other processes move the free space a little between calls.
	const slack = 32 << 20
	if d := without - with; d < dbSize-slack || d > dbSize+slack {
		t.Errorf("database counted %d bytes, want about %d", d, dbSize)
	}
	if want := int64(free) - reserve; without > want+slack || without < want-slack {
		t.Errorf("limit %d, want about free−reserve = %d", without, want)
	}
	huge, _, _ := storeLimit(store, nil, 1<<62)
	if huge != minStore {
		t.Errorf("limit on a disk short of space: %d, want %d", huge, minStore)
	}
}
