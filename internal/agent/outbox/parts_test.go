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
	blob, _ := EncodeParts([]Part{{Subject: "s", MsgID: "m", File: blobName(3, 1), Offset: 5, Size: 7}, parts(1, "g")[0]})
	f.Add(blob)
	f.Add([]byte(partsMagic + "1\ns\nid\nnull\n@00000000000000000003.0.blob 0 1\n"))
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

// spooled writes data into the outbox's spool directory, as the runner does.
func spooled(t *testing.T, o *Outbox, data []byte) string {
	t.Helper()
	dir, err := o.SpoolDir()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "spool-*.out")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// files lists the outbox directory's files (not the spool directory).
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	names, _ := os.ReadDir(dir)
	for _, de := range names {
		if !de.IsDir() {
			out = append(out, de.Name())
		}
	}
	return out
}

// TestBlobPartsSurviveReopen: parts whose payload is a range of a spooled
// file are queued without reading the file, the file is moved into the
// outbox, a failed publish and a restart (kill -9 stands for both) keep
// them, and Drain hands over each part's exact bytes, in order, then
// removes everything.
func TestBlobPartsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	o, err := Open(dir, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16 000 bytes
	errOut := []byte("short stderr\n")
	fo, fe := spooled(t, o, out), spooled(t, o, errOut)
	ps := []Part{
		{Subject: "output.pc.r.stdout", MsgID: "o-0", File: fo, Offset: 0, Size: 10000, Header: map[string][]string{"Kanade-Output-Index": {"0"}}},
		{Subject: "output.pc.r.stdout", MsgID: "o-1", File: fo, Offset: 10000, Size: 6000, Header: map[string][]string{"Kanade-Output-Index": {"1"}}},
		{Subject: "output.pc.r.stderr", MsgID: "e-0", File: fe, Size: int64(len(errOut)), Header: map[string][]string{"Kanade-Output-Index": {"0"}}},
		{Subject: "output.pc.r.note", MsgID: "n-0", Payload: []byte("inline"), Header: map[string][]string{"Kanade-Output-Index": {"0"}}},
	}
	if err := o.PutParts("results.pc.r", "rr", []byte("R"), ps); err != nil {
		t.Fatal(err)
	}
	if ps[0].File != fo {
		t.Fatal("PutParts changed the caller's parts")
	}
	for _, f := range []string{fo, fe} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("spool file %s not taken over: %v", f, err)
		}
	}
	if got := o.PartBytes(); got < int64(len(out)+len(errOut)) {
		t.Fatalf("part bytes %d do not count the blobs", got)
	}
	if _, err := o.Drain(context.Background(), func(context.Context, Entry) error { return errors.New("no broker") }); err == nil {
		t.Fatal("drain did not fail")
	}
	o2, err := Open(dir, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o2.PartBytes() != o.PartBytes() {
		t.Fatalf("part bytes after reopen %d, before %d", o2.PartBytes(), o.PartBytes())
	}
	var got []string
	var stdout []byte
	if _, err := o2.Drain(context.Background(), func(_ context.Context, e Entry) error {
		for _, p := range e.Parts {
			b, err := p.Data()
			if err != nil {
				return err
			}
			if p.Subject == "output.pc.r.stdout" {
				stdout = append(stdout, b...)
			}
			got = append(got, fmt.Sprintf("%s|%s|%d", p.MsgID, p.Header["Kanade-Output-Index"][0], len(b)))
		}
		got = append(got, e.Subject+"|"+string(e.Payload))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := "o-0|0|10000 o-1|1|6000 e-0|0|13 n-0|0|6 results.pc.r|R"
	if strings.Join(got, " ") != want || !bytes.Equal(stdout, out) {
		t.Fatalf("sent %v (stdout identical: %v), want %s", got, bytes.Equal(stdout, out), want)
	}
	if left := files(t, dir); len(left) != 0 || o2.PartBytes() != 0 {
		t.Fatalf("left %v, %d part bytes", left, o2.PartBytes())
	}
}

// What a crash leaves is cleaned at Open: spool files of unfinished runs,
// blobs moved in before their sidecar or entry was written. A sidecar that
// names a blob of another entry, or a range past its blob's end, is
// damage: the entry goes without its parts.
func TestBlobPartsCrashLeftoversAndDamage(t *testing.T) {
	dir := t.TempDir()
	o, err := Open(dir, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	spool := spooled(t, o, []byte("half-written output of a run cut short"))
	for _, n := range []string{blobName(40, 0), blobName(41, 0), partsName(41)} { // no entries
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f := spooled(t, o, []byte("0123456789"))
	if err := o.PutParts("results.pc.a", "ra", []byte("A"), []Part{{Subject: "output.pc.a.stdout", MsgID: "a-0", File: f, Size: 10}}); err != nil {
		t.Fatal(err)
	}
	if err := o.Put("results.pc.b", "rb", []byte("B")); err != nil {
		t.Fatal(err)
	}
	// b gets a sidecar pointing at a's blob, a's range is stretched past
	// its blob's end.
	bad, _ := EncodeParts([]Part{{Subject: "output.pc.b.stdout", MsgID: "b-0", File: blobName(1, 0), Size: 5}})
	if err := os.WriteFile(filepath.Join(dir, partsName(2)), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	long, _ := EncodeParts([]Part{{Subject: "output.pc.a.stdout", MsgID: "a-0", File: blobName(1, 0), Size: 11}})
	if err := os.WriteFile(filepath.Join(dir, partsName(1)), long, 0o600); err != nil {
		t.Fatal(err)
	}
	o2, err := Open(dir, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spool); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale spool file kept: %v", err)
	}
	for _, n := range []string{blobName(40, 0), blobName(41, 0), partsName(41)} {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("orphan %s kept: %v", n, err)
		}
	}
	got, err := sent(t, o2, nil)
	if err != nil || strings.Join(got, " ") != "results.pc.a|A results.pc.b|B" {
		t.Fatalf("sent %v, %v", got, err)
	}
	if left := files(t, dir); len(left) != 0 {
		t.Fatalf("left %v", left)
	}
}
