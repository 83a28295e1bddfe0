package kv_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/release"
	"github.com/kanade-fleet/kanade/internal/sign"
)

func TestReleases(t *testing.T) {
	s, js := open(t)
	ctx := t.Context()
	signer, _ := sign.GenerateKey()
	put := func(version, goos string, body []byte) {
		t.Helper()
		sum := sha256.Sum256(body)
		st := release.Statement{Version: version, OS: goos, Arch: "amd64", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(body))}
		if _, err := s.Releases.Put(ctx, st, release.Sign(signer, st), bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	put("1.0.0", "linux", []byte("linux one"))
	put("1.0.0", "windows", []byte("windows one"))
	put("1.1.0", "linux", bytes.Repeat([]byte("x"), 300<<10)) // several chunks
	// A hand-made object that is not a release is not listed.
	obj, _ := js.ObjectStore(ctx, bus.ObjAgentRelease)
	if _, err := obj.PutBytes(ctx, "notes.txt", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	// A release name without a valid statement is listed with its error.
	if _, err := obj.Put(ctx, jetstream.ObjectMeta{Name: release.ObjectName("0.9", "linux", "arm64")}, bytes.NewReader([]byte("?"))); err != nil {
		t.Fatal(err)
	}
	all, err := s.Releases.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("listed %d, want 4: %+v", len(all), all)
	}
	if all[0].Version != "0.9" || all[0].Err == nil {
		t.Errorf("newest is the hand-made one, with an error: %+v", all[0])
	}
	for _, ri := range all[1:] {
		if ri.Err != nil || ri.KeyID != signer.KeyID() {
			t.Errorf("%s: %v key %q", ri.Name(), ri.Err, ri.KeyID)
		}
		if err := release.Verify(sign.NewKeyring(signer.Public()), ri.Statement, ri.Headers); err != nil {
			t.Errorf("stored signature: %v", err)
		}
	}
	rd, ri, ok, err := s.Releases.Open(ctx, "1.1.0", "linux", "amd64")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	b, err := io.ReadAll(rd)
	_ = rd.Close()
	sum := sha256.Sum256(b)
	if err != nil || hex.EncodeToString(sum[:]) != ri.SHA256 || len(b) != 300<<10 {
		t.Fatalf("read %d bytes, %v", len(b), err)
	}
	if _, ok, err := s.Releases.Info(ctx, "2.0", "linux", "amd64"); ok || err != nil {
		t.Errorf("unknown release: %v %v", ok, err)
	}
	gone, err := s.Releases.DeleteVersion(ctx, "1.0.0")
	if err != nil || len(gone) != 2 {
		t.Fatalf("deleted %v, %v", gone, err)
	}
	if _, ok, _ := s.Releases.Info(ctx, "1.0.0", "windows", "amd64"); ok {
		t.Error("deleted release still there")
	}
	if gone, _ := s.Releases.DeleteVersion(ctx, "7"); len(gone) != 0 {
		t.Errorf("unknown version deleted %v", gone)
	}
	// A wrong size is refused and leaves nothing behind.
	st := release.Statement{Version: "3", OS: "linux", Arch: "amd64", SHA256: ri.SHA256, Size: 5}
	if _, err := s.Releases.Put(ctx, st, nil, bytes.NewReader([]byte("abc"))); err == nil {
		t.Error("short body accepted")
	}
	if _, ok, _ := s.Releases.Info(ctx, "3", "linux", "amd64"); ok {
		t.Error("refused upload left an object")
	}
}
