package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/sign"
)

// SigningKeyFile is the backend's command-signing key in the data dir
// (PKCS#8 PEM, created at first start) unless --signing-key names another.
const SigningKeyFile = "signing.key"

// SigningKeyPath is where the backend of cfg reads its signing key.
func SigningKeyPath(cfg Config) string {
	if cfg.SigningKey != "" {
		return cfg.SigningKey
	}
	return filepath.Join(cfg.DataDir, SigningKeyFile)
}

// loadSigner loads the signing key (creating signing.key in the data dir on
// first start; a --signing-key file must exist) and makes sure KV
// signing_keys trusts it (kv.SigningKeys.Ensure): a chain is created on the
// fleet's first start; a chain that does not trust this key stops the
// start, because replacing it would hand every agent a new trust root.
func (b *Server) loadSigner(ctx context.Context) error {
	path := SigningKeyPath(b.Cfg)
	var (
		s       *sign.Signer
		created bool
		err     error
	)
	if b.Cfg.SigningKey != "" {
		s, err = sign.LoadKey(path)
	} else {
		s, created, err = sign.LoadOrCreateKey(path)
	}
	if err != nil {
		return fmt.Errorf("command-signing key: %w", err)
	}
	if created {
		b.Log.Info("command-signing key created", "file", path, "key_id", s.KeyID())
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	chain, fresh, err := b.KV.SigningKeys.Ensure(cctx, s, time.Now())
	if err != nil {
		return fmt.Errorf("command-signing key %s (%s): %w", s.KeyID(), path, err)
	}
	last, _ := chain.Last()
	b.Log.Info("commands are signed", "key_id", s.KeyID(), "file", path, "chain_seq", last.Seq, "chain_created", fresh)
	b.Signer = s
	return nil
}

// SigningKeyAdmin is the `kanade-backend signing-key` toolbox: it works on
// the key files of a backend's config and on KV signing_keys through the
// same broker the backend uses (cfg's --nats-url, or the embedded broker's
// --nats-addr, with --nats-token or the [backend] user of
// --nats-auth-file). It needs the private key files, which is the point:
// rotating the fleet's trust root takes the host that holds it, not an API
// session (SPEC §12; docs/security.md).
type SigningKeyAdmin struct {
	cfg  Config
	nc   *nats.Conn
	keys *kv.SigningKeys
}

// OpenSigningKeyAdmin connects to the broker of cfg.
func OpenSigningKeyAdmin(cfg Config) (*SigningKeyAdmin, error) {
	url := cfg.NATSURL
	if url == "" {
		url = "nats://" + cfg.NATSAddr
	}
	co := bus.ConnectOptions{URL: url, Token: cfg.NATSToken, Name: "kanade-backend signing-key", Logger: cfg.Log,
		InboxPrefix: bus.InboxBackend}
	if cfg.NATSAuthFile != "" {
		f, err := broker.LoadAuthFile(cfg.NATSAuthFile)
		if err != nil {
			return nil, err
		}
		co.Token, co.User, co.Password = "", f.Backend.User, f.Backend.Password
	}
	nc, err := bus.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("connect to the broker at %s (is the backend's broker running?): %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &SigningKeyAdmin{cfg: cfg, nc: nc, keys: kv.New(js, cfg.Log).SigningKeys}, nil
}

// Close ends the broker connection.
func (a *SigningKeyAdmin) Close() { a.nc.Close() }

// Chain is the current chain.
func (a *SigningKeyAdmin) Chain(ctx context.Context) (sign.Chain, error) {
	c, _, ok, err := a.keys.Chain(ctx)
	if err == nil && !ok {
		err = errors.New("KV signing_keys holds no chain yet: start the backend once")
	}
	return c, err
}

// Rotated is what Rotate did.
type Rotated struct {
	Old, New string // key ids
	File     string // where the new key now is (the backend's key path)
	OldFile  string // where the old key was moved
}

// Rotate introduces a new signing key: it generates it (kept in
// <key>.next until the chain names it, so a failed or repeated run reuses
// it), appends a chain record introducing it signed by the current key
// (the chain's newest), then moves the current key to <key>.<old id>.old
// and the new one into its place. The old key stays trusted until
// Retire: backends still running on it keep working; restart them (and
// give replicas with --signing-key the new file), then retire the old key.
func (a *SigningKeyAdmin) Rotate(ctx context.Context, now time.Time) (Rotated, error) {
	path := SigningKeyPath(a.cfg)
	old, err := sign.LoadKey(path)
	if err != nil {
		return Rotated{}, err
	}
	nextPath := path + ".next"
	next, err := sign.LoadKey(nextPath)
	if errors.Is(err, os.ErrNotExist) {
		if next, err = sign.GenerateKey(); err == nil {
			err = next.Save(nextPath)
		}
	}
	if err != nil {
		return Rotated{}, err
	}
	c, err := a.Chain(ctx)
	if err != nil {
		return Rotated{}, err
	}
	if last, _ := c.Last(); last.KeyID != next.KeyID() {
		if _, err := a.keys.Rotate(ctx, old, next.Public(), now); err != nil {
			return Rotated{}, fmt.Errorf("rotate %s → %s: %w", old.KeyID(), next.KeyID(), err)
		}
	}
	r := Rotated{Old: old.KeyID(), New: next.KeyID(), File: path, OldFile: path + "." + old.KeyID() + ".old"}
	if err := os.Rename(path, r.OldFile); err != nil {
		return r, fmt.Errorf("the chain trusts %s now, but moving the old key away failed (move %s to %s by hand): %w", next.KeyID(), nextPath, path, err)
	}
	if err := os.Rename(nextPath, path); err != nil {
		return r, fmt.Errorf("the chain trusts %s now, but installing it failed (move %s to %s by hand): %w", next.KeyID(), nextPath, path, err)
	}
	return r, nil
}

// Retire appends a record, signed by this backend's key (which must be
// the chain's newest), that retires the given key ids: agents refuse
// what they sign from the moment they read it, and a backend started
// with a retired key refuses to start.
func (a *SigningKeyAdmin) Retire(ctx context.Context, now time.Time, ids ...string) (sign.Chain, error) {
	s, err := sign.LoadKey(SigningKeyPath(a.cfg))
	if err != nil {
		return sign.Chain{}, err
	}
	if len(ids) == 0 {
		return sign.Chain{}, errors.New("retire: name the key ids to retire")
	}
	return a.keys.Rotate(ctx, s, s.Public(), now, ids...)
}
