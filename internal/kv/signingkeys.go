package kv

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/sign"
)

// SigningKeys is KV signing_keys: the command-signing public keys as one
// rotation chain under key "chain" (format and rules: package sign). Only
// the backend writes it; agents read it by direct get.
type SigningKeys struct{ s *Store }

// ErrKeyNotInChain: the chain exists and does not trust the backend's
// signing key (a replica started with another key). The backend refuses
// to start rather than overwrite the fleet's trust root.
var ErrKeyNotInChain = errors.New("signing key is not an active key of KV signing_keys")

// Chain returns the stored chain and its revision; ok false when there is
// none. A value that does not decode or check is an error wrapping
// ErrInvalid (returned with its revision).
func (k *SigningKeys) Chain(ctx context.Context) (c sign.Chain, rev uint64, ok bool, err error) {
	kv, err := k.s.bucket(ctx, bus.KVSigningKeys)
	if err != nil {
		return sign.Chain{}, 0, false, err
	}
	v, rev, ok, err := get(ctx, kv, bus.SigningKeysChain)
	if err != nil {
		return sign.Chain{}, 0, false, fmt.Errorf("get signing_keys.chain: %w", err)
	}
	if !ok {
		return sign.Chain{}, 0, false, nil
	}
	c, err = sign.DecodeChain(v)
	if err != nil {
		return sign.Chain{}, rev, true, invalid("signing_keys.chain", err)
	}
	return c, rev, true, nil
}

// Put stores a chain by compare-and-set (rev 0 creates); a lost race is
// ErrConflict.
func (k *SigningKeys) Put(ctx context.Context, c sign.Chain, rev uint64) (uint64, error) {
	kv, err := k.s.bucket(ctx, bus.KVSigningKeys)
	if err != nil {
		return 0, err
	}
	data, err := c.Encode()
	if err != nil {
		return 0, fmt.Errorf("encode signing_keys.chain: %w", err)
	}
	rev, err = put(ctx, kv, bus.SigningKeysChain, data, rev)
	if err != nil {
		return 0, fmt.Errorf("put signing_keys.chain: %w", err)
	}
	return rev, nil
}

// Ensure makes sure the chain trusts s, at backend start: no chain yet →
// a new one anchored on s (created true); a chain whose active keys
// include s → unchanged; any other chain → an error wrapping
// ErrKeyNotInChain (or ErrInvalid for a value that does not check). It
// never rewrites an existing chain: replicas that share a key agree, and a
// replica with a different key cannot silently replace the fleet's trust.
func (k *SigningKeys) Ensure(ctx context.Context, s *sign.Signer, now time.Time) (c sign.Chain, created bool, err error) {
	for range 5 {
		c, _, ok, err := k.Chain(ctx)
		if err != nil {
			return sign.Chain{}, false, err
		}
		if ok {
			if !Trusts(c, s.Public()) {
				return c, false, fmt.Errorf("%w: this backend's key is %s, the chain's active keys are %s; start it with the fleet's key (--signing-key), or rotate this key in (kanade-backend signing-key rotate)",
					ErrKeyNotInChain, s.KeyID(), strings.Join(activeIDs(c), ", "))
			}
			return c, false, nil
		}
		c = sign.NewChain(s, now)
		if _, err := k.Put(ctx, c, 0); err != nil {
			if IsConflict(err) {
				continue // another replica created it first: check that one
			}
			return sign.Chain{}, false, err
		}
		return c, true, nil
	}
	return sign.Chain{}, false, errors.New("signing_keys.chain: too many concurrent changes")
}

// Rotate appends a record introducing next and retiring the given key ids,
// signed by prev (the newest record's key), by compare-and-set.
func (k *SigningKeys) Rotate(ctx context.Context, prev *sign.Signer, next ed25519.PublicKey, now time.Time, retire ...string) (sign.Chain, error) {
	for range 5 {
		c, rev, ok, err := k.Chain(ctx)
		if err != nil {
			return sign.Chain{}, err
		}
		if !ok {
			return sign.Chain{}, errors.New("signing_keys.chain does not exist yet: start the backend once")
		}
		for _, id := range retire {
			if !Trusts(c, nil, id) {
				return sign.Chain{}, fmt.Errorf("retire %s: not an active key (active: %s)", id, strings.Join(activeIDs(c), ", "))
			}
		}
		n, err := c.Rotate(prev, next, now, retire...)
		if err != nil {
			return sign.Chain{}, err
		}
		if _, err := k.Put(ctx, n, rev); err != nil {
			if IsConflict(err) {
				continue
			}
			return sign.Chain{}, err
		}
		return n, nil
	}
	return sign.Chain{}, errors.New("signing_keys.chain: too many concurrent changes")
}

// Trusts reports whether the chain's active keys include pub (or, with
// pub nil, every key id given).
func Trusts(c sign.Chain, pub ed25519.PublicKey, ids ...string) bool {
	active := map[string]bool{}
	for _, p := range c.Active() {
		active[sign.KeyID(p)] = true
	}
	if pub != nil {
		ids = append(ids, sign.KeyID(pub))
	}
	for _, id := range ids {
		if !active[id] {
			return false
		}
	}
	return len(ids) > 0
}

func activeIDs(c sign.Chain) []string {
	var out []string
	for _, p := range c.Active() {
		out = append(out, sign.KeyID(p))
	}
	return out
}

// CheckTrusted reports an error wrapping ErrKeyNotInChain when the chain
// exists and no longer trusts keyID (it was retired while a replica kept
// signing with it). A missing chain or a read failure is not this
// check's to report: it returns nil, and the broker probes speak.
func (k *SigningKeys) CheckTrusted(ctx context.Context, keyID string) error {
	c, _, ok, err := k.Chain(ctx)
	if err != nil || !ok {
		return nil
	}
	active := activeIDs(c)
	if slices.Contains(active, keyID) {
		return nil
	}
	return fmt.Errorf("%w: this replica signs with %s; the chain trusts %s", ErrKeyNotInChain, keyID, strings.Join(active, ", "))
}
