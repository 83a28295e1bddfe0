package kv_test

import (
	"errors"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/sign"
)

// Ensure creates the chain once, is a no-op for the same key (a second
// replica), refuses another key without touching the value, and Rotate
// then Ensure accept the rotated-in key; retiring the old key makes a
// replica still holding it refuse to start.
func TestSigningKeysEnsureAndRotate(t *testing.T) {
	s, js := open(t)
	ctx := t.Context()
	k1, _ := sign.GenerateKey()
	k2, _ := sign.GenerateKey()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	c, created, err := s.SigningKeys.Ensure(ctx, k1, now)
	if err != nil || !created || len(c.Records) != 1 || c.Records[0].KeyID != k1.KeyID() {
		t.Fatalf("first Ensure: %+v created=%v err=%v", c, created, err)
	}
	if _, created, err := s.SigningKeys.Ensure(ctx, k1, now); err != nil || created {
		t.Fatalf("same key again: created=%v err=%v", created, err)
	}
	_, rev, _, _ := s.SigningKeys.Chain(ctx)
	if _, _, err := s.SigningKeys.Ensure(ctx, k2, now); !errors.Is(err, kv.ErrKeyNotInChain) {
		t.Fatalf("other key: %v, want ErrKeyNotInChain", err)
	}
	if _, rev2, _, _ := s.SigningKeys.Chain(ctx); rev2 != rev {
		t.Fatalf("refused Ensure changed the chain: rev %d → %d", rev, rev2)
	}

	if _, err := s.SigningKeys.Rotate(ctx, k2, k2.Public(), now); err == nil {
		t.Fatal("rotation signed by a key that is not the chain's head was accepted")
	}
	if _, err := s.SigningKeys.Rotate(ctx, k1, k2.Public(), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SigningKeys.Ensure(ctx, k2, now); err != nil {
		t.Fatalf("rotated-in key refused: %v", err)
	}
	if _, _, err := s.SigningKeys.Ensure(ctx, k1, now); err != nil {
		t.Fatalf("old key refused before it is retired: %v", err)
	}
	c, err = s.SigningKeys.Rotate(ctx, k2, k2.Public(), now.Add(2*time.Minute), k1.KeyID())
	if err != nil {
		t.Fatal(err)
	}
	if kv.Trusts(c, k1.Public()) || !kv.Trusts(c, k2.Public()) {
		t.Fatalf("after retire: active %v", c.Active())
	}
	if _, _, err := s.SigningKeys.Ensure(ctx, k1, now); !errors.Is(err, kv.ErrKeyNotInChain) {
		t.Fatalf("retired key: %v, want ErrKeyNotInChain", err)
	}
	if _, err := s.SigningKeys.Rotate(ctx, k2, k2.Public(), now, "0123456789abcdef"); err == nil {
		t.Fatal("retiring an unknown key id was accepted")
	}
	// An agent trusting the first record follows the whole chain.
	kr, err := sign.TrustChain(c)
	if err != nil || kr.Len() != 1 {
		t.Fatalf("TrustChain: %v %v", kr.KeyIDs(), err)
	}

	rawPut(t, js, bus.KVSigningKeys, bus.SigningKeysChain, `{"records":[{"seq":1}]}`)
	if _, _, err := s.SigningKeys.Ensure(ctx, k2, now); !errors.Is(err, kv.ErrInvalid) {
		t.Fatalf("bad chain: %v, want ErrInvalid", err)
	}
}
