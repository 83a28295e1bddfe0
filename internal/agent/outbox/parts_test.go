package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func parts(n int, tag string) []Part {
	var ps []Part
	for i := range n {
		ps = append(ps, Part{Subject: "output.pc." + tag + ".stdout", MsgID: fmt.Sprintf("%s-%d", tag, i),
			Header:  map[string][]string{"Kanade-Output-Index": {fmt.Sprint(i)}},
			Payload: bytes.Repeat([]byte{byte('a' + i)}, 1000+i)})
	}
	return ps
}

// sent flattens what Drain publishes: each entry's parts, then the entry.
func sent(t *testing.T, o *Outbox, fail func(e Entry) error) ([]string, error) {
	t.Helper()
	var got []string
	_, err := o.Drain(context.Background(), func(_ context.Context, e Entry) error {
		if fail != nil {
			if err := fail(e); err != nil {
				return err
			}
		}
		for _, p := range e.Parts {
			got = append(got, fmt.Sprintf("%s|%s|%s|%d", p.Subject, p.MsgID, p.Header["Kanade-Output-Index"][0], len(p.Payload)))
		}
		got = append(got, e.Subject+"|"+string(e.Payload))
		return nil
	})
	return got, err
}

// TestPartsSurviveReopenAndPrecedeTheirEntry: parts written with an entry
// come back after a restart, byte for byte, and are handed over with it;
// a failed publish keeps both for the next drain; sending removes both.
func TestPartsSurviveReopenAndPrecedeTheirEntry(t *testing.T) {
	dir := t.TempDir()
	o, err := Open(dir, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Put("results.pc.a", "ra", []byte("A")); err != nil {
		t.Fatal(err)
	}
	if err := o.PutParts("results.pc.b", "rb", []byte("B"), parts(3, "b")); err != nil {
		t.Fatal(err)
	}
	if o.PartBytes() == 0 {
		t.Fatal("part bytes not counted")
	}
	// The broker is away: nothing is lost.
	if _, err := sent(t, o, func(Entry) error { return errors.New("no broker") }); err == nil {
		t.Fatal("drain did not fail")
	}
	o2, err := Open(dir, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sent(t, o2, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"results.pc.a|A", "output.pc.b.stdout|b-0|0|1000", "output.pc.b.stdout|b-1|1|1001",
		"output.pc.b.stdout|b-2|2|1002", "results.pc.b|B"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 || o2.PartBytes() != 0 {
		t.Fatalf("left: %v, %d part bytes", names, o2.PartBytes())
	}
}

// A sidecar whose entry was never written (a crash between the two) is
// discarded at Open; a damaged one leaves its entry to be sent alone.
func TestPartsOrphanedOrDamaged(t *testing.T) {
	dir := t.TempDir()
	o, err := Open(dir, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.PutParts("results.pc.x", "rx", []byte("X"), parts(2, "x")); err != nil {
		t.Fatal(err)
	}
	data, _ := EncodeParts(parts(1, "orphan"))
	if err := os.WriteFile(filepath.Join(dir, partsName(77)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	// Damage x's sidecar: cut it short.
	side := filepath.Join(dir, partsName(1))
	b, _ := os.ReadFile(side)
	if err := os.WriteFile(side, b[:len(b)-10], 0o600); err != nil {
		t.Fatal(err)
	}
	o2, err := Open(dir, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, partsName(77))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("orphaned sidecar kept: %v", err)
	}
	got, err := sent(t, o2, nil)
	if err != nil || len(got) != 1 || got[0] != "results.pc.x|X" {
		t.Fatalf("sent %v, %v", got, err)
	}
	// New sequences do not reuse the orphan's number.
	if err := o2.Put("after", "", nil); err != nil {
		t.Fatal(err)
	}
	if o2.next <= 78 {
		t.Fatalf("next seq %d reuses an old sidecar's number", o2.next)
	}
}

// Over the part cap, the oldest entries lose their parts, never
// themselves; the entry cap drops entry and parts together.
func TestPartCap(t *testing.T) {
	dir := t.TempDir()
	o, err := Open(dir, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	one, _ := EncodeParts(parts(2, "p0"))
	o.SetPartCap(int64(len(one))*2 + 10)
	for i := range 3 {
		if err := o.PutParts(fmt.Sprintf("results.pc.%d", i), fmt.Sprint("r", i), []byte(fmt.Sprint(i)), parts(2, fmt.Sprint("p", i))); err != nil {
			t.Fatal(err)
		}
	}
	if o.PartBytes() != int64(len(one))*2 || o.Len() != 3 {
		t.Fatalf("part bytes %d, want two entries' worth; %d entries, want all 3", o.PartBytes(), o.Len())
	}
	for i := 3; i < 5; i++ { // entry cap 4: entry 0 goes
		if err := o.Put(fmt.Sprint("results.pc.", i), fmt.Sprint("r", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	got, err := sent(t, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "output.pc.p1.stdout|p1-0|0|1000\noutput.pc.p1.stdout|p1-1|1|1001\nresults.pc.1|1\n" +
		"output.pc.p2.stdout|p2-0|0|1000\noutput.pc.p2.stdout|p2-1|1|1001\nresults.pc.2|2\nresults.pc.3|3\nresults.pc.4|4"
	if strings.Join(got, "\n") != want {
		t.Fatalf("sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 || o.PartBytes() != 0 {
		t.Fatalf("left: %v, %d part bytes", names, o.PartBytes())
	}
}

func FuzzDecodeParts(f *testing.F) {
	good, _ := EncodeParts(parts(2, "f"))
	f.Add(good)
	f.Add([]byte(partsMagic + "1\ns\nid\nnull\n0\n"))
	f.Add([]byte(partsMagic + "99999999999\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := DecodeParts(data)
		if err != nil {
			return
		}
		again, err := EncodeParts(ps)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeParts(again); err != nil {
			t.Fatalf("accepted parts do not round-trip: %v", err)
		}
	})
}
