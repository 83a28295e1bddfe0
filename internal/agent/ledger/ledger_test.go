package ledger

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/wire"
)

func cmd(rid string) wire.Command {
	return wire.Command{ID: "job", Version: "1", RequestID: rid, ExecID: "e-" + rid, Shell: "sh", Script: "echo " + rid}
}

func TestAdmitOnceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, rid := range []string{"a", "b", "c"} {
		ok, err := l.Admit(cmd(rid), "res-"+rid, now)
		if !ok || err != nil {
			t.Fatalf("admit %s: %v %v", rid, ok, err)
		}
	}
	if ok, _ := l.Admit(cmd("a"), "other", now); ok {
		t.Fatal("admitted twice")
	}
	must(t, l.Start("b", now))
	must(t, l.Start("c", now))
	must(t, l.Done("c"))
	if err := l.Start("zzz", now); err == nil {
		t.Fatal("start of unknown id accepted")
	}
	must(t, l.Close())

	// Simulate a crash in the middle of the next append: a torn line.
	f, _ := os.OpenFile(filepath.Join(dir, "ledger.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString(`{"op":"d","rid":"b`)
	_ = f.Close()

	l2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	for _, rid := range []string{"a", "b", "c"} {
		if !l2.Seen(rid) {
			t.Fatalf("%s forgotten", rid)
		}
		if ok, _ := l2.Admit(cmd(rid), "x", now); ok {
			t.Fatalf("%s admitted again after restart", rid)
		}
	}
	un := l2.Unfinished()
	if len(un) != 2 {
		t.Fatalf("unfinished %+v", un)
	}
	byID := map[string]Record{}
	for _, r := range un {
		byID[r.RequestID] = r
	}
	if r := byID["a"]; r.State != Admitted || r.ResultID != "res-a" || r.Command == nil || r.Command.Script != "echo a" {
		t.Fatalf("a = %+v", r)
	}
	if r := byID["b"]; r.State != Started || r.StartedAt.IsZero() || r.ResultID != "res-b" {
		t.Fatalf("b = %+v", r)
	}
	// Further ops append after the compacted journal.
	must(t, l2.Done("a"))
	must(t, l2.Close())
	l3, _ := Open(dir)
	defer l3.Close()
	if un := l3.Unfinished(); len(un) != 1 || un[0].RequestID != "b" {
		t.Fatalf("unfinished %+v", un)
	}
}

func TestExpire(t *testing.T) {
	dir := t.TempDir()
	l, _ := Open(dir)
	old := time.Now().Add(-Retention - time.Hour)
	_, _ = l.Admit(cmd("old-done"), "r1", old)
	_, _ = l.Admit(cmd("old-open"), "r2", old)
	_, _ = l.Admit(cmd("new"), "r3", time.Now())
	must(t, l.Done("old-done"))
	must(t, l.Done("new"))
	must(t, l.Expire())
	if l.Seen("old-done") || !l.Seen("old-open") || !l.Seen("new") {
		t.Fatal("wrong records expired")
	}
	_ = l.Close()
	l2, _ := Open(dir)
	defer l2.Close()
	if l2.Len() != 2 {
		t.Fatalf("len %d", l2.Len())
	}
}

func TestCompactionWhileRunning(t *testing.T) {
	l, _ := Open(t.TempDir())
	defer l.Close()
	now := time.Now()
	for i := range 1500 {
		rid := "r" + string(rune('a'+i%26)) + time.Duration(i).String()
		_, _ = l.Admit(cmd(rid), "x", now)
		must(t, l.Start(rid, now))
		must(t, l.Done(rid))
	}
	if l.ops > 4096+3 {
		t.Fatalf("journal never compacted: %d ops", l.ops)
	}
	if l.Len() != 1500 {
		t.Fatal(l.Len())
	}
}

func TestMemory(t *testing.T) {
	l := NewMemory()
	if ok, _ := l.Admit(cmd("a"), "x", time.Now()); !ok {
		t.Fatal("not admitted")
	}
	if ok, _ := l.Admit(cmd("a"), "x", time.Now()); ok {
		t.Fatal("admitted twice")
	}
	must(t, l.Start("a", time.Now()))
	must(t, l.Done("a"))
	if len(l.Unfinished()) != 0 {
		t.Fatal("unfinished")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"op":"a","rid":"x","res":"r","at":"2026-01-01T00:00:00Z","cmd":{"id":"j","request_id":"x"}}` + "\n" +
		`{"op":"s","rid":"x","sat":"2026-01-01T00:00:01Z"}` + "\n" + `{"op":"d","rid":"x"}`))
	f.Add([]byte(`{"op":"r","rid":"y","st":2}`))
	f.Add([]byte(`{"op":"r","rid":"y","st":9}` + "\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for id, r := range Load(data) {
			if id == "" || r.RequestID != id || r.State < Admitted || r.State > Done {
				t.Fatalf("bad record %q %+v", id, r)
			}
			if r.State == Done && r.Command != nil {
				t.Fatal("done record keeps its command")
			}
		}
	})
}

// A second command of the same execution (another subject the PC is
// subscribed to, or a later wave) is not admitted, even after the first run
// is done and the journal was compacted and reopened.
func TestOneRunPerExecution(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	first := wire.Command{ID: "job", Version: "1", RequestID: "r-web", ExecID: "exec-1", Shell: "sh"}
	second := first
	second.RequestID = "r-db"
	if ok, err := l.Admit(first, "res-1", now); !ok || err != nil {
		t.Fatalf("first: %v %v", ok, err)
	}
	if ok, _ := l.Admit(second, "res-2", now); ok {
		t.Fatal("second command of the same execution admitted")
	}
	must(t, l.Start("r-web", now))
	must(t, l.Done("r-web"))
	must(t, l.Expire()) // compaction drops the command but keeps the exec_id
	must(t, l.Close())
	l, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if ok, _ := l.Admit(second, "res-2", now); ok {
		t.Fatal("second command admitted after restart")
	}
	other := first
	other.RequestID, other.ExecID = "r-next", "exec-2"
	if ok, err := l.Admit(other, "res-3", now); !ok || err != nil {
		t.Fatalf("another execution: %v %v", ok, err)
	}
	// Commands without an exec_id (never sent by kanade) are keyed by request_id only.
	a, b := wire.Command{RequestID: "x1"}, wire.Command{RequestID: "x2"}
	if ok1, _ := l.Admit(a, "r", now); !ok1 {
		t.Fatal("x1")
	}
	if ok2, _ := l.Admit(b, "r", now); !ok2 {
		t.Fatal("x2")
	}
}

// The request_id alone refuses a second admission: without an exec_id (the
// intake's refusal reports) and with a different one (a re-sent command
// whose exec_id was changed), and after a restart. The exec_id check must
// not be what makes these pass.
func TestAdmitKeyedByRequestID(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	bare := wire.Command{RequestID: "refused:r1"}
	if ok, err := l.Admit(bare, "", now); !ok || err != nil {
		t.Fatalf("first: %v %v", ok, err)
	}
	if ok, _ := l.Admit(bare, "", now); ok {
		t.Fatal("same request_id without exec_id admitted twice")
	}
	c := wire.Command{ID: "job", Version: "1", RequestID: "r2", ExecID: "exec-a", Shell: "sh"}
	if ok, err := l.Admit(c, "res-a", now); !ok || err != nil {
		t.Fatalf("r2: %v %v", ok, err)
	}
	c2 := c
	c2.ExecID = "exec-b"
	if ok, _ := l.Admit(c2, "res-b", now); ok {
		t.Fatal("same request_id with another exec_id admitted")
	}
	must(t, l.Close())
	l, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, c := range []wire.Command{bare, c2} {
		if ok, _ := l.Admit(c, "x", now); ok {
			t.Fatalf("%s admitted again after restart", c.RequestID)
		}
	}
}
