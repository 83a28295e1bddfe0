package enrollment

import (
	"context"
	"fmt"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/sign"
)

// ChainKeys reads the active command-signing keys from the rotation chain
// in KV signing_keys (internal/sign format), checking the chain first. It
// is the default SigningKeys: whatever signs commands publishes its keys
// there, so enrollment hands out exactly what agents will see rotate.
type ChainKeys struct {
	// Read returns the raw value of signing_keys "chain" (ok false when
	// absent): (*kv.Store).SigningChain.
	Read func(ctx context.Context) ([]byte, bool, error)
}

// SigningKeys implements SigningKeys; none (no error) before a chain exists.
func (c ChainKeys) SigningKeys(ctx context.Context) ([]apiv1.SigningKey, error) {
	b, ok, err := c.Read(ctx)
	if err != nil || !ok {
		return nil, err
	}
	ch, err := sign.DecodeChain(b)
	if err != nil {
		return nil, fmt.Errorf("signing_keys chain: %w", err)
	}
	if len(ch.Records) == 0 {
		return nil, nil
	}
	if _, err := sign.TrustChain(ch); err != nil {
		return nil, fmt.Errorf("signing_keys chain: %w", err)
	}
	var out []apiv1.SigningKey
	for _, p := range ch.Active() {
		out = append(out, apiv1.SigningKey{KeyID: sign.KeyID(p), PublicKey: sign.EncodePublicKey(p)})
	}
	return out, nil
}

// StaticKeys hands out fixed keys (tests, or a backend told its keys).
type StaticKeys []apiv1.SigningKey

// SigningKeys implements SigningKeys.
func (k StaticKeys) SigningKeys(context.Context) ([]apiv1.SigningKey, error) { return k, nil }
