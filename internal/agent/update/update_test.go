package update

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/release"
	"github.com/kanade-fleet/kanade/internal/sign"
)

// install dir with an "old" binary at exe.
func installDir(t *testing.T) (exe string) {
	dir := t.TempDir()
	exe = filepath.Join(dir, "kanade-agent")
	if err := os.WriteFile(exe, []byte("old binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestInstallAndRestore(t *testing.T) {
	exe := installDir(t)
	next := filepath.Join(t.TempDir(), "verified")
	_ = os.WriteFile(next, []byte("new binary"), 0o600)
	prev, err := install(exe, next)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(exe); string(b) != "new binary" {
		t.Fatalf("exe holds %q", b)
	}
	if b, _ := os.ReadFile(prev); string(b) != "old binary" {
		t.Fatalf("prev holds %q", b)
	}
	if fi, _ := os.Stat(exe); fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("new binary not executable: %v", fi.Mode())
	}
	if _, err := os.Stat(exe + ".new"); !os.IsNotExist(err) {
		t.Errorf("staging file left: %v", err)
	}
	if err := restore(exe, prev); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(exe); string(b) != "old binary" {
		t.Fatalf("after restore exe holds %q", b)
	}
	if err := restore(exe, prev); err == nil {
		t.Error("restore without a previous binary succeeded")
	}
}

// TestBootCountsStarts: a new version started unwatched (its service
// manager restarting it) is rolled back at its third start inside the
// window, even after a first heartbeat.
func TestBootCountsStarts(t *testing.T) {
	exe := installDir(t)
	data := t.TempDir()
	f := FilesIn(data)
	_ = os.WriteFile(PrevPath(exe), []byte("previous"), 0o755)
	now := time.Now().UTC()
	if err := f.SavePending(Pending{From: "1", To: "2", Exe: exe, Prev: PrevPath(exe), ArmedAt: now, Window: "1m", HealthyAt: &now}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		restart, err := Boot(data, "2", exe, discard)
		if err != nil {
			t.Fatal(err)
		}
		if restart != (i == 3) {
			t.Fatalf("start %d: restart=%v", i, restart)
		}
	}
	if b, _ := os.ReadFile(exe); string(b) != "previous" {
		t.Fatalf("exe not rolled back: %q", b)
	}
	q, _ := f.Quarantine()
	if q == nil || q.Version != "2" || !strings.Contains(q.Reason, "3 times") {
		t.Fatalf("quarantine %+v", q)
	}
	if p, _ := f.Pending(); p != nil {
		t.Errorf("pending left: %+v", p)
	}
}

func TestBootWindowEnds(t *testing.T) {
	exe := installDir(t)
	data := t.TempDir()
	f := FilesIn(data)
	long := time.Now().UTC().Add(-time.Hour)
	// Healthy, window over: confirmed.
	_ = f.SavePending(Pending{From: "1", To: "2", Exe: exe, Prev: PrevPath(exe), ArmedAt: long, Window: "1m", HealthyAt: &long})
	if restart, err := Boot(data, "2", exe, discard); restart || err != nil {
		t.Fatal(restart, err)
	}
	if p, _ := f.Pending(); p != nil {
		t.Fatalf("not confirmed: %+v", p)
	}
	// Never heartbeated, window over (the PC was off): a fresh window.
	_ = f.SavePending(Pending{From: "1", To: "2", Exe: exe, Prev: PrevPath(exe), ArmedAt: long, Window: "1m",
		Boots: []time.Time{long, long}})
	if restart, err := Boot(data, "2", exe, discard); restart || err != nil {
		t.Fatal(restart, err)
	}
	p, _ := f.Pending()
	if p == nil || len(p.Boots) != 1 || time.Since(p.ArmedAt) > time.Minute {
		t.Fatalf("not re-armed: %+v", p)
	}
	// Another version runs (the swap never took): the record is dropped.
	if restart, err := Boot(data, "1", exe, discard); restart || err != nil {
		t.Fatal(restart, err)
	}
	if p, _ := f.Pending(); p != nil {
		t.Fatalf("foreign pending kept: %+v", p)
	}
	// A damaged record does not stop the agent.
	_ = os.WriteFile(filepath.Join(f.Dir, "pending.json"), []byte("{"), 0o600)
	if restart, err := Boot(data, "2", exe, discard); restart || err != nil {
		t.Fatal(restart, err)
	}
}

// TestDownload: chunks by direct get, resumed from a partial file;
// refused when the statement or signature does not hold.
func TestDownload(t *testing.T) {
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:-1", StoreDir: t.TempDir(), Log: discard, DiskReserve: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	nc, err := nats.Connect(b.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if err := bus.Bootstrap(t.Context(), js, 1); err != nil {
		t.Fatal(err)
	}
	store := kv.New(js, discard)
	signer, _ := sign.GenerateKey()
	kr := sign.NewKeyring(signer.Public())
	body := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB: 5 chunks
	sum := sha256.Sum256(body)
	st := release.Statement{Version: "2.0", OS: "linux", Arch: "amd64", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(body))}
	if _, err := store.Releases.Put(t.Context(), st, release.Sign(signer, st), bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	f := FilesIn(t.TempDir())
	_ = os.MkdirAll(f.Dir, 0o700)
	part := filepath.Join(f.Dir, "download.part")

	// A partial file of the first chunk with its progress: resumed.
	oi, _, err := lookup(t.Context(), nc, st.Name())
	if err != nil {
		t.Fatal(err)
	}
	seq, first, err := nextChunk(t.Context(), nc, chunkPre+oi.NUID, 1)
	if err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(part, first, 0o600)
	_ = f.save("download.json", progress{Name: st.Name(), NUID: oi.NUID, NextSeq: seq + 1, Bytes: int64(len(first))})
	got, err := download(t.Context(), nc, f, st.Name(), part, kr)
	if err != nil || got != st {
		t.Fatalf("resumed download: %+v %v", got, err)
	}
	if b, _ := os.ReadFile(part); !bytes.Equal(b, body) {
		t.Fatal("resumed file differs")
	}
	// Progress that does not match the file: started over, still right.
	_ = os.WriteFile(part, []byte("garbage"), 0o600)
	_ = f.save("download.json", progress{Name: st.Name(), NUID: oi.NUID, NextSeq: seq + 1, Bytes: 3})
	if _, err := download(t.Context(), nc, f, st.Name(), part, kr); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(part); !bytes.Equal(b, body) {
		t.Fatal("restarted file differs")
	}
	for _, c := range []struct {
		name string
		kr   *sign.Keyring
		want string
	}{
		{st.Name(), nil, "no command-signing key"},
		{st.Name(), sign.NewKeyring(), "no command-signing key"},
		{release.ObjectName("9.9", "linux", "amd64"), kr, "no release"},
	} {
		if _, err := download(t.Context(), nc, f, c.name, part, c.kr); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	other, _ := sign.GenerateKey()
	if _, err := download(t.Context(), nc, f, st.Name(), part, sign.NewKeyring(other.Public())); err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("foreign key: %v", err)
	}
}
