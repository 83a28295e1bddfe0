package sign

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// KV bucket and key of the rotation chain (see the package doc).
const (
	Bucket   = "signing_keys"
	ChainKey = "chain"
)

// MaxChainBytes bounds a chain value an agent will decode.
const MaxChainBytes = 1 << 20

// Keyring is a set of trusted public keys and, once a chain has been
// applied, the position in that chain. It is immutable: Apply returns a
// new Keyring, so one can be shared between goroutines without locks.
type Keyring struct {
	keys map[string]ed25519.PublicKey
	seq  uint64 // last chain record applied; 0 = anchored on keys only
	head string // that record's signature
}

// NewKeyring trusts keys (enrollment.json's signing keys).
func NewKeyring(keys ...ed25519.PublicKey) *Keyring {
	k := &Keyring{keys: map[string]ed25519.PublicKey{}}
	for _, p := range keys {
		if len(p) == ed25519.PublicKeySize {
			k.keys[KeyID(p)] = slices.Clone(p)
		}
	}
	return k
}

// Key returns the trusted key with id.
func (k *Keyring) Key(id string) (ed25519.PublicKey, bool) {
	if k == nil {
		return nil, false
	}
	p, ok := k.keys[id]
	return p, ok
}

// KeyIDs lists the trusted key ids, sorted.
func (k *Keyring) KeyIDs() []string {
	if k == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(k.keys))
}

// Len is the number of trusted keys.
func (k *Keyring) Len() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

// Seq is the seq of the last chain record applied (0: none).
func (k *Keyring) Seq() uint64 {
	if k == nil {
		return 0
	}
	return k.seq
}

// Record is one entry of the signing_keys chain.
type Record struct {
	Seq       uint64    `json:"seq"`
	KeyID     string    `json:"key_id"`
	PublicKey string    `json:"public_key"`
	Retire    []string  `json:"retire,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	SignedBy  string    `json:"signed_by"`
	Signature string    `json:"signature"`
}

// Chain is the value of signing_keys[chain].
type Chain struct {
	Records []Record `json:"records"`
}

// RecordSigningBytes is the text a record's signature covers.
func RecordSigningBytes(r Record) []byte {
	var b bytes.Buffer
	b.WriteString("kanade-signing-key-v1\n")
	b.WriteString(strconv.FormatUint(r.Seq, 10))
	b.WriteByte('\n')
	b.WriteString(r.KeyID)
	b.WriteByte('\n')
	b.WriteString(r.PublicKey)
	b.WriteByte('\n')
	b.WriteString(strings.Join(r.Retire, ","))
	b.WriteByte('\n')
	b.WriteString(r.CreatedAt.UTC().Format(time.RFC3339Nano))
	return b.Bytes()
}

var errChain = errors.New("signing_keys chain")

func chainErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errChain, fmt.Sprintf(format, a...))
}

// IsChainError reports whether err is a refused chain value.
func IsChainError(err error) bool { return errors.Is(err, errChain) }

// DecodeChain parses and checks a chain value: seqs contiguous, key ids
// matching their keys, every record after the first signed by the key of
// the record before it, and a seq-1 record signed by itself. It does not
// decide trust; Keyring.Apply and TrustChain do.
func DecodeChain(b []byte) (Chain, error) {
	if len(b) > MaxChainBytes {
		return Chain{}, chainErr("%d bytes, more than %d", len(b), MaxChainBytes)
	}
	var c Chain
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&c); err != nil {
		return Chain{}, chainErr("%v", err)
	}
	if dec.More() {
		return Chain{}, chainErr("trailing data")
	}
	return c, c.check()
}

func (c Chain) check() error {
	var prev ed25519.PublicKey
	for i, r := range c.Records {
		pub, err := ParsePublicKey(r.PublicKey)
		if err != nil {
			return chainErr("record %d: %v", r.Seq, err)
		}
		if KeyID(pub) != r.KeyID {
			return chainErr("record %d: key_id %q is not the id of its public key", r.Seq, truncate(r.KeyID))
		}
		if r.Seq == 0 || (i > 0 && r.Seq != c.Records[i-1].Seq+1) {
			return chainErr("record %d follows %d: seqs must count up by one from 1", r.Seq, seqAt(c, i-1))
		}
		for _, id := range r.Retire {
			if id == r.KeyID {
				return chainErr("record %d retires its own key", r.Seq)
			}
		}
		var signer ed25519.PublicKey
		switch {
		case i > 0:
			signer = prev
		case r.Seq == 1:
			signer = pub
		}
		if signer != nil {
			sig, err := base64.StdEncoding.Strict().DecodeString(r.Signature)
			if err != nil || r.SignedBy != KeyID(signer) || !ed25519.Verify(signer, RecordSigningBytes(r), sig) {
				return chainErr("record %d is not signed by key %s", r.Seq, KeyID(signer))
			}
		}
		prev = pub
	}
	return nil
}

func seqAt(c Chain, i int) uint64 {
	if i < 0 {
		return 0
	}
	return c.Records[i].Seq
}

// Encode renders the chain as JSON (the KV value).
func (c Chain) Encode() ([]byte, error) { return json.Marshal(c) }

// Last is the newest record (ok false for an empty chain).
func (c Chain) Last() (Record, bool) {
	if len(c.Records) == 0 {
		return Record{}, false
	}
	return c.Records[len(c.Records)-1], true
}

// NewChain starts a chain with s's key (the backend's first start).
func NewChain(s *Signer, now time.Time) Chain {
	r := Record{Seq: 1, KeyID: s.KeyID(), PublicKey: EncodePublicKey(s.Public()), CreatedAt: now.UTC(), SignedBy: s.KeyID()}
	r.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.priv, RecordSigningBytes(r)))
	return Chain{Records: []Record{r}}
}

// Rotate appends a record introducing next (which may be the current key,
// to retire others only) and retiring the given key ids, signed by prev,
// which must hold the newest record's key. The keys not retired stay
// trusted, so commands signed just before a rotation still verify; retire
// the old key in a later record once they are done.
func (c Chain) Rotate(prev *Signer, next ed25519.PublicKey, now time.Time, retire ...string) (Chain, error) {
	last, ok := c.Last()
	if !ok {
		return Chain{}, errors.New("rotate: empty chain (use NewChain)")
	}
	if prev.KeyID() != last.KeyID {
		return Chain{}, fmt.Errorf("rotate: the newest record's key is %s, not the signer's %s", last.KeyID, prev.KeyID())
	}
	if len(next) != ed25519.PublicKeySize {
		return Chain{}, errors.New("rotate: bad next public key")
	}
	r := Record{Seq: last.Seq + 1, KeyID: KeyID(next), PublicKey: EncodePublicKey(next), Retire: slices.Clone(retire),
		CreatedAt: now.UTC(), SignedBy: prev.KeyID()}
	if slices.Contains(retire, r.KeyID) {
		return Chain{}, errors.New("rotate: a record cannot retire its own key")
	}
	r.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(prev.priv, RecordSigningBytes(r)))
	out := Chain{Records: append(slices.Clone(c.Records), r)}
	return out, out.check()
}

// Active is the key set the chain leads to when read from its first
// record: what TrustChain trusts and what the backend hands out at
// enrollment.
func (c Chain) Active() []ed25519.PublicKey {
	k := &Keyring{keys: map[string]ed25519.PublicKey{}}
	for _, r := range c.Records {
		k.apply(r)
	}
	ids := k.KeyIDs()
	out := make([]ed25519.PublicKey, len(ids))
	for i, id := range ids {
		out[i] = k.keys[id]
	}
	return out
}

func (k *Keyring) apply(r Record) {
	pub, _ := ParsePublicKey(r.PublicKey) // checked by Chain.check
	k.keys[r.KeyID] = pub
	for _, id := range r.Retire {
		delete(k.keys, id)
	}
	k.seq, k.head = r.Seq, r.Signature
}

func (k *Keyring) clone() *Keyring {
	return &Keyring{keys: maps.Clone(k.keys), seq: k.seq, head: k.head}
}

// TrustChain trusts a chain found with no prior keys (an agent that was
// not enrolled, at its first connect): its first record's key is the
// anchor.
func TrustChain(c Chain) (*Keyring, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if len(c.Records) == 0 {
		return nil, chainErr("empty")
	}
	k := &Keyring{keys: map[string]ed25519.PublicKey{}}
	for _, r := range c.Records {
		k.apply(r)
	}
	return k, nil
}

// Apply follows a newer chain value. It returns k itself (changed false)
// when the chain brings nothing new, and an error when the chain cannot
// be reconciled with what k trusts: it rewrites the last record k applied,
// ends before it (rolled back), or, for a keyring anchored on keys only,
// holds no record of a trusted key.
func (k *Keyring) Apply(c Chain) (*Keyring, bool, error) {
	if err := c.check(); err != nil {
		return k, false, err
	}
	if len(c.Records) == 0 {
		return k, false, nil
	}
	start := -1
	if k.seq > 0 {
		for i, r := range c.Records {
			if r.Seq == k.seq {
				if r.Signature != k.head {
					return k, false, chainErr("record %d differs from the one applied before (the chain was rewritten)", r.Seq)
				}
				start = i
			}
		}
		if start < 0 {
			if last, _ := c.Last(); last.Seq < k.seq {
				return k, false, chainErr("ends at record %d, before record %d applied already (stale or rolled back)", last.Seq, k.seq)
			}
			return k, false, chainErr("starts at record %d, after record %d applied last (pruned; re-enroll)", c.Records[0].Seq, k.seq)
		}
	} else {
		for i, r := range c.Records {
			if p, ok := k.keys[r.KeyID]; ok && p.Equal(parsedKey(r.PublicKey)) {
				start = i
			}
		}
		if start < 0 {
			return k, false, chainErr("no record holds a trusted key (%s)", strings.Join(k.KeyIDs(), ", "))
		}
	}
	n := k.clone()
	if k.seq == 0 {
		// Anchored: the anchor record's own retirements happened before
		// the keys were handed out; only its position is adopted.
		n.seq, n.head = c.Records[start].Seq, c.Records[start].Signature
	}
	for _, r := range c.Records[start+1:] {
		n.apply(r)
	}
	changed := n.seq != k.seq || !maps.EqualFunc(n.keys, k.keys, func(a, b ed25519.PublicKey) bool { return a.Equal(b) })
	if !changed {
		return k, false, nil
	}
	return n, true, nil
}

func parsedKey(s string) ed25519.PublicKey {
	p, _ := ParsePublicKey(s)
	return p
}

// keyringFile is the persisted form (the agent's data dir).
type keyringFile struct {
	Keys map[string]string `json:"keys"` // key id → public key
	Seq  uint64            `json:"seq,omitempty"`
	Head string            `json:"head,omitempty"`
}

// MarshalJSON persists the keyring.
func (k *Keyring) MarshalJSON() ([]byte, error) {
	f := keyringFile{Keys: map[string]string{}, Seq: k.seq, Head: k.head}
	for id, p := range k.keys {
		f.Keys[id] = EncodePublicKey(p)
	}
	return json.Marshal(f)
}

// DecodeKeyring reads what MarshalJSON wrote, checking every key id.
func DecodeKeyring(b []byte) (*Keyring, error) {
	var f keyringFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	k := &Keyring{keys: map[string]ed25519.PublicKey{}, seq: f.Seq, head: f.Head}
	for id, s := range f.Keys {
		p, err := ParsePublicKey(s)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %q: %w", truncate(id), err)
		}
		if KeyID(p) != id {
			return nil, fmt.Errorf("keyring: %q is not the id of its key", truncate(id))
		}
		k.keys[id] = p
	}
	if len(k.keys) == 0 {
		return nil, errors.New("keyring: no keys")
	}
	if (k.seq == 0) != (k.head == "") {
		return nil, errors.New("keyring: seq and head go together")
	}
	return k, nil
}
