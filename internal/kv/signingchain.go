package kv

import (
	"context"
	"fmt"

	"github.com/kanade-fleet/kanade/internal/bus"
)

// SigningChain reads the raw value of KV signing_keys "chain" (the
// command-signing key rotation chain, internal/sign format); ok false when
// it was never written. Enrollment hands its active keys to new agents.
func (s *Store) SigningChain(ctx context.Context) ([]byte, bool, error) {
	b, err := s.bucket(ctx, bus.KVSigningKeys)
	if err != nil {
		return nil, false, err
	}
	v, _, ok, err := get(ctx, b, bus.SigningKeysChain)
	if err != nil {
		return nil, false, fmt.Errorf("get signing_keys.%s: %w", bus.SigningKeysChain, err)
	}
	return v, ok, nil
}
