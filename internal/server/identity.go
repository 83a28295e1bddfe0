package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/agent/enroll"
	"github.com/kanade-fleet/kanade/internal/brokerid"
	"github.com/kanade-fleet/kanade/internal/enrollment"
	"github.com/kanade-fleet/kanade/internal/store"
)

// Files of the broker identity in the data dir (all 0600).
const (
	// BrokerKeysFile holds the trust chain's private keys: whoever has it
	// can mint any broker identity of the install. Replicas share it.
	BrokerKeysFile = "broker-keys.json"
	// OperatorCredsFile is the first operator CLI credential, written at
	// the first start in operator mode (kanade --nats-creds).
	OperatorCredsFile = "operator.creds"
)

// LoadAuthority loads (or creates, at the first start) the broker trust
// chain of dataDir and signs the revocations recorded in db into it:
// revoked agents stay revoked across restarts and replicas.
func LoadAuthority(ctx context.Context, dataDir string, db *store.DB) (*brokerid.Authority, bool, error) {
	keys, created, err := brokerid.LoadOrCreateKeys(filepath.Join(dataDir, BrokerKeysFile))
	if err != nil {
		return nil, false, err
	}
	var revs map[string]map[string]int64
	if db != nil {
		if revs, err = db.BrokerRevocations(ctx); err != nil {
			return nil, false, err
		}
	}
	a, err := brokerid.New(keys, revs)
	if err != nil {
		return nil, false, err
	}
	return a, created, nil
}

// startIdentity runs after the backend's own broker connection: it
// connects the system user that pushes account JWTs, pushes the current
// ones (an external cluster's preload may predate a revocation), and
// writes operator.creds once.
func (b *Server) startIdentity(ctx context.Context) error {
	a := b.Authority
	su, err := a.IssueSystem("kanade-backend-push")
	if err != nil {
		return err
	}
	opts := []nats.Option{nats.UserJWTAndSeed(su.JWT, string(su.Seed)), nats.Name("kanade-backend-push"),
		nats.MaxReconnects(-1), nats.ReconnectWait(time.Second)}
	if b.Broker != nil {
		opts = append(opts, nats.InProcessServer(b.Broker.Server))
	}
	if b.sysNC, err = nats.Connect(b.natsURL, opts...); err != nil {
		return fmt.Errorf("broker system user (account updates): %w", err)
	}
	for acc, j := range a.AccountJWTs() {
		if err := brokerid.PushAccount(b.sysNC, j, 10*time.Second); err != nil {
			return fmt.Errorf("push account %s at start: %w", acc, err)
		}
	}
	path := filepath.Join(b.Cfg.DataDir, OperatorCredsFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		u, err := a.IssueCLI("operator")
		if err != nil {
			return err
		}
		c, err := u.Creds()
		if err != nil {
			return err
		}
		if err := brokerid.WriteSecret(path, c); err != nil {
			return err
		}
		b.Log.Info("operator broker credential written (nats --creds)", "file", path)
	} else if err != nil {
		return fmt.Errorf("operator credential: %w", err)
	}
	// Listed like the ones the API issues, so it can be revoked on its own
	// (also when an older version wrote it; a recorded one is unchanged).
	if uc, err := brokerid.ReadCreds(path); err != nil {
		b.Log.Warn("operator credential not recorded: unreadable", "file", path, "error", err)
	} else if err := b.DB.InsertOperatorCred(ctx, store.OperatorCred{PublicKey: uc.Subject, Name: uc.Name,
		CreatedBy: "kanade-backend (" + OperatorCredsFile + ")", CreatedAt: time.Unix(uc.IssuedAt, 0)}); err != nil {
		return err
	}
	return ctx.Err()
}

// push sends a re-signed account JWT through the system user.
func (b *Server) push(_ context.Context, accountJWT string) error {
	return brokerid.PushAccount(b.sysNC, accountJWT, 10*time.Second)
}

// agentURLs are the broker URLs enrolled agents are told.
func (b *Server) agentURLs() []string {
	if len(b.Cfg.AgentNATSURLs) > 0 {
		return b.Cfg.AgentNATSURLs
	}
	var out []string
	for _, u := range strings.Split(b.natsURL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// newEnrollment builds the enrollment service; without broker identity it
// serves the token routes only.
func (b *Server) newEnrollment() *enrollment.Service {
	keys := b.Cfg.SigningKeys
	if keys == nil {
		keys = enrollment.ChainKeys{Read: b.KV.SigningChain}
	}
	s := &enrollment.Service{Store: b.DB, Groups: b.KV.AgentGroups, Keys: keys, Log: b.Log}
	if b.Authority != nil {
		s.Broker = &enrollment.Broker{Authority: b.Authority, Push: b.push, URLs: b.agentURLs()}
	}
	return s
}

// devAgentCreds gives the --dev agent its own credential in operator mode:
// the backend holds the keys, so it enrolls its local agent directly (a
// fresh NKey each start; the seed stays in the agent's data dir).
func (b *Server) devAgentCreds(pc, dataDir string) (string, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	seed, pub, err := brokerid.NewUserKey()
	if err != nil {
		return "", err
	}
	u, err := b.Authority.IssueAgent(pc, pub)
	if err != nil {
		return "", err
	}
	path := enroll.CredsPath(dataDir)
	return path, brokerid.WriteCreds(path, u.JWT, seed)
}

// syncRevocationsLoop signs and pushes revocations other replicas recorded:
// two replicas revoking at the same moment could each push an account JWT
// without the other's entry, and the next pass of either repairs it.
func (b *Server) syncRevocationsLoop(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := b.Enrollment.SyncRevocations(ctx); err != nil && ctx.Err() == nil {
				b.Log.Warn("broker revocations: sync failed; retrying", "error", err)
			}
		}
	}
}
