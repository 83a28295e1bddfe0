//go:build unix

package broker

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
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

// Failing write probes on a disk that was never full (a broker busy with a
// connect storm) never restart JetStream: a restart would drop every
// in-flight request and make it busier. Once a probe saw the limit
// reached, the same failures do restart it.
func TestHealLeavesABusyBrokerAlone(t *testing.T) {
	b, err := Start(Options{Addr: "127.0.0.1:0", StoreDir: filepath.Join(t.TempDir(), "js"), HealPause: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	busy := errors.New("broker write probe: context deadline exceeded")
	for failures := 1; failures <= 5; failures++ {
		if restarted, err := b.Heal(busy, failures); restarted || err != nil {
			t.Fatalf("restarted a busy broker after %d failures: %v", failures, err)
		}
	}
	if raceEnabled {
		t.Skip("the restart half: nats-server's in-process JetStream restart trips the race detector inside nats-server")
	}
	full := &jetstream.APIError{Code: 500, ErrorCode: 10047, Description: "insufficient storage resources available"}
	if restarted, _ := b.Heal(full, 1); restarted {
		t.Fatal("restarted although nothing was freed")
	}
	if restarted, err := b.Heal(busy, 2); !restarted || err != nil {
		t.Fatalf("a store stuck after the limit was reached was not restarted: %v", err)
	}
	if restarted, _ := b.Heal(busy, 3); restarted {
		t.Fatal("restarted again without the disk being full since")
	}
}
