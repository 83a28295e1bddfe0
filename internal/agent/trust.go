package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/agent/enroll"
	"github.com/kanade-fleet/kanade/internal/sign"
)

// KeyringFile is where the agent keeps the command-signing keys it trusts
// (data dir): the enrollment keys, advanced by every signing_keys rotation
// it applied, or what it trusted on first use.
const KeyringFile = enroll.KeyringFile

// trust decides which commands and kills are genuine (SPEC §12).
//
//   - With a keyring (enrolled, persisted, or trusted on first use from KV
//     signing_keys) every command and kill must be signed by one of its keys
//     for the subject it arrived on.
//   - With no keyring and require set, everything is refused until keys are
//     known.
//   - With no keyring and require unset (the shared-token legacy mode, until
//     the backend signs) unsigned commands are accepted; the agent adopts the
//     keys as soon as KV signing_keys holds a chain.
type trust struct {
	log     *slog.Logger
	path    string
	require bool
	kr      atomic.Pointer[sign.Keyring]

	mu       sync.Mutex // serialises updates and on-demand fetches
	fetch    func(ctx context.Context) (val []byte, found, fresh bool)
	warnedNo bool

	askMu   sync.Mutex
	asked   map[string]time.Time // key id → last on-demand read for it
	askedAt time.Time            // last on-demand read for any key
}

func newTrust(log *slog.Logger, path string, anchor *sign.Keyring, require bool) (*trust, error) {
	t := &trust{log: log, path: path, require: require, asked: map[string]time.Time{}}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		kr, err := sign.DecodeKeyring(b)
		if err != nil {
			return nil, fmt.Errorf("agent: %s: %w (re-enroll, or delete it to trust KV signing_keys again)", path, err)
		}
		t.kr.Store(kr)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("agent: %w", err)
	case anchor != nil && anchor.Len() > 0:
		t.kr.Store(anchor)
	}
	return t, nil
}

// keyring is the current keyring (nil: none).
func (t *trust) keyring() *sign.Keyring { return t.kr.Load() }

// enforced reports whether unsigned commands are refused.
func (t *trust) enforced() bool { return t.require || t.kr.Load() != nil }

// Verify implements intake.Verifier.
func (t *trust) Verify(subject string, h nats.Header, payload []byte) error {
	kr := t.kr.Load()
	if kr == nil && !t.require {
		return nil
	}
	err := sign.Verify(kr, subject, h, payload)
	if kr == nil || errors.Is(err, sign.ErrUnknownKey) {
		// A rotation may have reached the command before its KV
		// notification: re-read signing_keys once and retry (also when a
		// concurrent sync changed the keys meanwhile).
		t.refreshNow(h.Get(sign.HeaderKeyID))
		if now := t.kr.Load(); now != kr {
			kr = now
			err = sign.Verify(kr, subject, h, payload)
		}
	}
	if err != nil && kr == nil {
		return fmt.Errorf("%w (no command-signing key is trusted yet: not enrolled and KV signing_keys holds none)", err)
	}
	return err
}

// refreshNow re-reads signing_keys for a message signed by an unknown key
// id: once per id every 10 s, and at most 10 reads a second in all, so a
// flood of such messages cannot turn into a flood of reads.
func (t *trust) refreshNow(keyID string) {
	now := time.Now()
	t.askMu.Lock()
	if now.Sub(t.askedAt) < 100*time.Millisecond || now.Sub(t.asked[keyID]) < 10*time.Second {
		t.askMu.Unlock()
		return
	}
	if len(t.asked) > 256 {
		clear(t.asked)
	}
	t.asked[keyID], t.askedAt = now, now
	t.askMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	t.sync(ctx)
}

// sync reads KV signing_keys and follows it; it reports whether the
// keyring changed.
func (t *trust) sync(ctx context.Context) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fetch == nil {
		return false
	}
	v, found, fresh := t.fetch(ctx)
	if !fresh {
		return false
	}
	cur := t.kr.Load()
	if !found {
		if cur == nil && !t.warnedNo {
			t.warnedNo = true
			if t.require {
				t.log.Warn("no command-signing keys known (not enrolled, KV signing_keys empty): every command is refused until the backend publishes its keys")
			} else {
				t.log.Warn("command signatures are NOT verified: not enrolled, KV signing_keys empty and --require-signed is off")
			}
		}
		return false
	}
	chain, err := sign.DecodeChain(v)
	if err != nil {
		t.log.Error("KV signing_keys refused; keeping the keys trusted so far", "error", err)
		return false
	}
	var next *sign.Keyring
	if cur == nil {
		if next, err = sign.TrustChain(chain); err != nil {
			t.log.Error("KV signing_keys refused", "error", err)
			return false
		}
		t.log.Warn("trusting the command-signing keys found in KV signing_keys (trust on first use: this agent is not enrolled)",
			"key_ids", next.KeyIDs(), "seq", next.Seq())
	} else {
		n, changed, err := cur.Apply(chain)
		if err != nil {
			t.log.Error("KV signing_keys refused; keeping the keys trusted so far", "error", err, "trusted", cur.KeyIDs(), "seq", cur.Seq())
			return false
		}
		if !changed {
			return false
		}
		next = n
		t.log.Info("command-signing keys updated from KV signing_keys", "key_ids", next.KeyIDs(), "seq", next.Seq(), "was", cur.KeyIDs())
	}
	// In force first, then persisted: once the file shows a key retired,
	// no command signed by it is accepted any more.
	t.kr.Store(next)
	if b, err := next.MarshalJSON(); err == nil {
		if err := sign.WriteFile0600(t.path, b); err != nil {
			t.log.Error("cannot persist the trusted command-signing keys; they apply until restart", "error", err)
		}
	}
	return true
}
