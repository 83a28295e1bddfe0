package server

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

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
