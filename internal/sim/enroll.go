package sim

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/brokerid"
	"github.com/kanade-fleet/kanade/internal/sign"
)

// Identities are enrolled PCs' broker credentials (user JWT + NKey seed)
// and the command-signing keys the backend handed out.
type Identities struct {
	mu      sync.Mutex
	creds   map[string]cred
	Keyring *sign.Keyring
}

type cred struct {
	jwt  string
	seed []byte
}

// Get returns pc's credential (Config.Identity).
func (ids *Identities) Get(pc string) (string, []byte, error) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	c, ok := ids.creds[pc]
	if !ok {
		return "", nil, fmt.Errorf("sim: %s is not enrolled", pc)
	}
	return c.jwt, c.seed, nil
}

// Enroll enrolls pcs through the backend as kanade-agent enroll does: one
// enrollment token for all of them, a fresh NKey per PC (the seed stays
// here), parallel requests at a time.
func Enroll(ctx context.Context, cl *apiv1.Client, pcs []string, parallel int) (*Identities, error) {
	tok, err := cl.CreateEnrollmentToken(ctx, apiv1.CreateEnrollmentTokenRequest{Uses: len(pcs), ExpiresIn: "24h"})
	if err != nil {
		return nil, fmt.Errorf("sim: enrollment token: %w", err)
	}
	ids := &Identities{creds: make(map[string]cred, len(pcs))}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		keys     []apiv1.SigningKey
	)
	work := make(chan string)
	for range max(parallel, 1) {
		wg.Go(func() {
			for pc := range work {
				seed, pub, err := brokerid.NewUserKey()
				if err == nil {
					var r apiv1.EnrollResponse
					r, err = cl.Enroll(ctx, apiv1.EnrollRequest{Token: tok.Token, PCID: pc, Hostname: pc, OSFamily: "linux", PublicKey: pub})
					if err == nil {
						ids.mu.Lock()
						ids.creds[pc] = cred{jwt: r.UserJWT, seed: seed}
						ids.mu.Unlock()
						mu.Lock()
						keys = r.SigningKeys
						mu.Unlock()
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("sim: enroll %s: %w", pc, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, pc := range pcs {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		work <- pc
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	var pubs []ed25519.PublicKey
	for _, k := range keys {
		p, err := sign.ParsePublicKey(k.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("sim: signing key %s: %w", k.KeyID, err)
		}
		pubs = append(pubs, p)
	}
	ids.Keyring = sign.NewKeyring(pubs...)
	return ids, nil
}
