package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func collect(t *testing.T, o *Outbox) []string {
	t.Helper()
	var got []string
	if _, err := o.Drain(context.Background(), func(_ context.Context, e Entry) error {
		got = append(got, e.Subject+"|"+e.MsgID+"|"+string(e.Payload))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestOrderSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	o, err := Open(dir, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 15 {
		if err := o.Put(fmt.Sprintf("s.%d", i), fmt.Sprint("id", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	// A leftover temp file from an interrupted Put is ignored and cleaned.
	_ = os.WriteFile(filepath.Join(dir, fileName(99)+".tmp"), []byte("junk"), 0o600)
	o2, err := Open(dir, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o2.Len() != 15 {
		t.Fatalf("len %d", o2.Len())
	}
	got := collect(t, o2)
	for i, g := range got {
		if want := fmt.Sprintf("s.%d|id%d|%d", i, i, i); g != want {
			t.Fatalf("entry %d = %q, want %q", i, g, want)
		}
	}
	if len(got) != 15 || o2.Len() != 0 {
		t.Fatalf("got %d, left %d", len(got), o2.Len())
	}
	names, _ := os.ReadDir(dir)
	if len(names) != 0 {
		t.Fatalf("files left: %v", names)
	}
	// New entries after reopen continue the sequence.
	_ = o2.Put("after", "", nil)
	if got := collect(t, o2); len(got) != 1 || got[0] != "after||" {
		t.Fatal(got)
	}
}

func TestBoundDropsOldest(t *testing.T) {
	dir := t.TempDir()
	o, _ := Open(dir, 3, nil)
	for i := range 5 {
		_ = o.Put(fmt.Sprintf("s.%d", i), "", nil)
	}
	if got := collect(t, o); len(got) != 3 || got[0] != "s.2||" || got[2] != "s.4||" {
		t.Fatal(got)
	}
	// Lowering the cap applies at reopen, too.
	for i := range 5 {
		_ = o.Put(fmt.Sprintf("t.%d", i), "", nil)
	}
	o.SetCap(100)
	o2, _ := Open(dir, 2, nil)
	if got := collect(t, o2); len(got) != 2 || got[0] != "t.3||" {
		t.Fatal(got)
	}
}

func TestDrainStopsAtFailureAndKeepsOrder(t *testing.T) {
	o, _ := Open(t.TempDir(), 100, nil)
	for i := range 4 {
		_ = o.Put(fmt.Sprintf("s.%d", i), "", nil)
	}
	calls := 0
	boom := errors.New("no ack")
	n, err := o.Drain(context.Background(), func(_ context.Context, e Entry) error {
		calls++
		if e.Subject == "s.2" {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 2 || calls != 3 || o.Len() != 2 {
		t.Fatalf("n=%d calls=%d len=%d err=%v", n, calls, o.Len(), err)
	}
	if got := collect(t, o); len(got) != 2 || got[0] != "s.2||" {
		t.Fatal(got)
	}
}

func TestPermanentAndCorruptAreDropped(t *testing.T) {
	dir := t.TempDir()
	o, _ := Open(dir, 100, nil)
	_ = o.Put("bad", "", nil)
	_ = o.Put("good", "", nil)
	_ = o.Put("good2", "", nil)
	// Damage the third entry on disk.
	_ = os.WriteFile(filepath.Join(dir, fileName(3)), []byte("garbage"), 0o600)
	var got []string
	n, err := o.Drain(context.Background(), func(_ context.Context, e Entry) error {
		if e.Subject == "bad" {
			return Permanent(errors.New("maximum payload exceeded"))
		}
		got = append(got, e.Subject)
		return nil
	})
	if err != nil || n != 1 || len(got) != 1 || got[0] != "good" || o.Len() != 0 {
		t.Fatalf("n=%d got=%v err=%v len=%d", n, got, err, o.Len())
	}
}

func TestPutRejectsBadSubject(t *testing.T) {
	o, _ := Open(t.TempDir(), 100, nil)
	if err := o.Put("a\nb", "", nil); err == nil {
		t.Fatal("accepted newline in subject")
	}
	if err := o.Put("", "", nil); err == nil {
		t.Fatal("accepted empty subject")
	}
}

func TestNotify(t *testing.T) {
	o, _ := Open(t.TempDir(), 100, nil)
	_ = o.Put("a", "", nil)
	_ = o.Put("b", "", nil)
	select {
	case <-o.Notify():
	default:
		t.Fatal("no notification")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(Entry{Subject: "results.x", MsgID: "r-1", Payload: []byte(`{"a":1}`)}))
	f.Add([]byte("KOB1\n"))
	f.Add([]byte("KOB1\nsubj\n"))
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			return
		}
		if !bytes.Equal(Encode(e), data) {
			t.Fatalf("round trip differs for %q", data)
		}
	})
}
