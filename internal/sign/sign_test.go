package sign

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustKey(t *testing.T) *Signer {
	t.Helper()
	s, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignVerify(t *testing.T) {
	s, other := mustKey(t), mustKey(t)
	kr := NewKeyring(s.Public())
	payload := []byte(`{"id":"adhoc","request_id":"r1"}`)
	h := s.Sign("commands.pc.a", payload)
	if len(h[HeaderKeyID][0]) != 16 || h[HeaderKeyID][0] != s.KeyID() {
		t.Fatalf("key id %q", h[HeaderKeyID])
	}
	if err := Verify(kr, "commands.pc.a", h, payload); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		subject string
		h       map[string][]string
		payload []byte
		want    error
	}{
		{"unsigned", "commands.pc.a", nil, payload, ErrUnsigned},
		{"signature only", "commands.pc.a", map[string][]string{HeaderSignature: h[HeaderSignature]}, payload, ErrUnsigned},
		{"repeated header", "commands.pc.a", map[string][]string{HeaderKeyID: h[HeaderKeyID], HeaderSignature: {h[HeaderSignature][0], h[HeaderSignature][0]}}, payload, ErrUnsigned},
		{"other subject", "commands.pc.b", h, payload, ErrBadSignature},
		{"other payload", "commands.pc.a", h, []byte(`{"id":"adhoc","request_id":"r2"}`), ErrBadSignature},
		{"unknown key", "commands.pc.a", other.Sign("commands.pc.a", payload), payload, ErrUnknownKey},
		{"forged id", "commands.pc.a", map[string][]string{HeaderKeyID: {s.KeyID()}, HeaderSignature: other.Sign("commands.pc.a", payload)[HeaderSignature]}, payload, ErrBadSignature},
		{"garbage signature", "commands.pc.a", map[string][]string{HeaderKeyID: {s.KeyID()}, HeaderSignature: {"!!"}}, payload, ErrBadSignature},
		{"nil keyring", "commands.pc.a", h, payload, ErrUnknownKey},
	}
	for _, tc := range cases {
		k := kr
		if tc.name == "nil keyring" {
			k = nil
		}
		if err := Verify(k, tc.subject, tc.h, tc.payload); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// The subject/payload boundary is part of what is signed.
	h2 := s.Sign("a.b", []byte("c\nd"))
	if err := Verify(kr, "a.b\nc", h2, []byte("d")); !errors.Is(err, ErrBadSignature) {
		t.Errorf("boundary moved: %v", err)
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.key")
	s, created, err := LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if runtime.GOOS != "windows" {
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Errorf("mode %v", st.Mode().Perm())
		}
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("not PKCS#8 PEM: %q", b)
	}
	s2, created, err := LoadOrCreateKey(path)
	if err != nil || created || s2.KeyID() != s.KeyID() {
		t.Fatalf("reload: %v %v", created, err)
	}
	// The id is the first 16 hex digits of SHA-256 of the raw public key
	// (a fixed vector: the all-zero seed).
	z, _ := NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)))
	if sum := sha256.Sum256(z.Public()); z.KeyID() != hex.EncodeToString(sum[:])[:16] {
		t.Fatalf("key id %q", z.KeyID())
	}
	for _, bad := range []string{"", "junk", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"} {
		if _, err := ParsePEM([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if _, err := LoadKey(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestChainRotation(t *testing.T) {
	k1, k2, k3 := mustKey(t), mustKey(t), mustKey(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c1 := NewChain(k1, now)
	enrolled := NewKeyring(k1.Public())

	// Anchored on the enrollment key, the first chain only fixes the position.
	kr, changed, err := enrolled.Apply(c1)
	if err != nil || !changed || kr.Seq() != 1 || !slices.Equal(kr.KeyIDs(), []string{k1.KeyID()}) {
		t.Fatalf("apply c1: %v %v %v", changed, err, kr.KeyIDs())
	}
	if again, changed, err := kr.Apply(c1); err != nil || changed || again != kr {
		t.Fatalf("re-apply: %v %v", changed, err)
	}

	// Rotate to k2 keeping k1, then retire k1.
	c2, err := c1.Rotate(k1, k2.Public(), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	kr2, _, err := kr.Apply(c2)
	if err != nil || kr2.Len() != 2 {
		t.Fatalf("apply c2: %v %v", err, kr2.KeyIDs())
	}
	c3, err := c2.Rotate(k2, k2.Public(), now.Add(2*time.Hour), k1.KeyID())
	if err != nil {
		t.Fatal(err)
	}
	kr3, _, err := kr2.Apply(c3)
	if err != nil || !slices.Equal(kr3.KeyIDs(), []string{k2.KeyID()}) {
		t.Fatalf("apply c3: %v %v", err, kr3.KeyIDs())
	}
	p := []byte("x")
	if err := Verify(kr3, "kill.e", k1.Sign("kill.e", p), p); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("retired key: %v", err)
	}
	if err := Verify(kr3, "kill.e", k2.Sign("kill.e", p), p); err != nil {
		t.Errorf("new key: %v", err)
	}
	// An agent enrolled with k1 long ago follows the whole chain at once;
	// one that trusted the chain on first use gets the same set.
	if kr, _, err := enrolled.Apply(c3); err != nil || !slices.Equal(kr.KeyIDs(), []string{k2.KeyID()}) {
		t.Errorf("catch up: %v %v", err, kr.KeyIDs())
	}
	if kr, err := TrustChain(c3); err != nil || !slices.Equal(kr.KeyIDs(), []string{k2.KeyID()}) || kr.Seq() != 3 {
		t.Errorf("tofu: %v", err)
	}
	if got := c3.Active(); len(got) != 1 || !got[0].Equal(k2.Public()) {
		t.Errorf("active %v", got)
	}

	// Refused: rollback, a fork signed by the retired key, rewrites,
	// records signed by the wrong key, a chain without a trusted key.
	if _, _, err := kr3.Apply(c2); !IsChainError(err) {
		t.Errorf("rollback accepted: %v", err)
	}
	fork, _ := c2.Rotate(k2, k3.Public(), now.Add(3*time.Hour), k2.KeyID()) // seq 3, another record
	if _, _, err := kr3.Apply(fork); !IsChainError(err) {
		t.Errorf("fork accepted: %v", err)
	}
	if _, err := c2.Rotate(k1, k3.Public(), now); err == nil {
		t.Error("rotation signed by an older key")
	}
	forged := c2
	forged.Records = slices.Clone(c2.Records)
	r := forged.Records[1]
	r.PublicKey, r.KeyID = EncodePublicKey(k3.Public()), k3.KeyID()
	forged.Records[1] = r
	if _, _, err := kr.Apply(forged); !IsChainError(err) {
		t.Errorf("forged record accepted: %v", err)
	}
	if _, _, err := NewKeyring(k3.Public()).Apply(c3); !IsChainError(err) {
		t.Errorf("untrusted chain accepted: %v", err)
	}
	if _, err := c1.Rotate(k1, k2.Public(), now, k2.KeyID()); err == nil {
		t.Error("a record retiring its own key")
	}

	// Encoding round trip, and the persisted keyring.
	b, _ := c3.Encode()
	dc, err := DecodeChain(b)
	if err != nil || len(dc.Records) != 3 {
		t.Fatalf("decode: %v", err)
	}
	kb, _ := kr3.MarshalJSON()
	back, err := DecodeKeyring(kb)
	if err != nil || back.Seq() != 3 || !slices.Equal(back.KeyIDs(), kr3.KeyIDs()) {
		t.Fatalf("keyring round trip: %v", err)
	}
	if _, changed, err := back.Apply(c3); err != nil || changed {
		t.Errorf("reloaded keyring: %v %v", changed, err)
	}
	// A chain pruned past the agent's position needs re-enrollment.
	pruned := Chain{Records: c3.Records[2:]}
	if _, _, err := (&Keyring{keys: kr.keys, seq: 1, head: kr.head}).Apply(pruned); !IsChainError(err) {
		t.Errorf("pruned: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)))
	kr := NewKeyring(s.Public())
	h := s.Sign("commands.all", []byte("{}"))
	f.Add("commands.all", s.KeyID(), h[HeaderSignature][0], []byte("{}"))
	f.Add("commands.pc.x", s.KeyID(), "AAAA", []byte(""))
	f.Add("", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, subject, id, sig string, payload []byte) {
		err := Verify(kr, subject, map[string][]string{HeaderKeyID: {id}, HeaderSignature: {sig}}, payload)
		if err == nil {
			// Only a real signature over exactly these bytes passes.
			want := s.Sign(subject, payload)[HeaderSignature][0]
			if id != s.KeyID() || sig != want {
				t.Fatalf("accepted forged signature id=%q sig=%q", id, sig)
			}
		} else if !errors.Is(err, ErrUnsigned) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}

func FuzzDecodeChain(f *testing.F) {
	s, _ := NewSigner(ed25519.NewKeyFromSeed(make([]byte, 32)))
	s2, _ := NewSigner(ed25519.NewKeyFromSeed(append(make([]byte, 31), 1)))
	c := NewChain(s, time.Unix(0, 0))
	c2, _ := c.Rotate(s, s2.Public(), time.Unix(1, 0), s.KeyID())
	b, _ := c2.Encode()
	f.Add(b)
	f.Add([]byte(`{"records":[]}`))
	f.Add([]byte(`{"records":[{"seq":1}]}`))
	f.Add([]byte(`{"keys":{}}`))
	kr := NewKeyring(s.Public())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeChain(b)
		if err == nil {
			n, _, err := kr.Apply(c)
			if err == nil {
				// Every key trusted after Apply was introduced by a record
				// signed, transitively, by the anchor.
				for _, id := range n.KeyIDs() {
					if id != s.KeyID() && id != s2.KeyID() {
						t.Fatalf("untrusted key %s accepted", id)
					}
				}
			}
		}
		_, _ = DecodeKeyring(b)
	})
}
