// Package identity runs the embedded nats-server in operator (JWT) mode
// for the trust chain of internal/brokerid: accounts come from the
// Authority itself, so a revocation is visible to the resolver the moment
// it is signed, and PushAccount makes the server apply it (close the
// revoked user's connections) exactly as on an external cluster.
package identity

import (
	"fmt"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/kanade-fleet/kanade/internal/brokerid"
)

// Configure returns an Options hook (broker.Options.Configure) that puts
// the embedded server in operator mode for a. It clears the shared token
// and user list: nats-server refuses them next to trusted operators.
func Configure(a *brokerid.Authority) func(*server.Options) error {
	return func(o *server.Options) error {
		op, err := jwt.DecodeOperatorClaims(a.OperatorJWT())
		if err != nil {
			return fmt.Errorf("operator JWT: %w", err)
		}
		o.Authorization = ""
		o.Users = nil
		o.Nkeys = nil
		o.NoAuthUser = ""
		o.TrustedOperators = []*jwt.OperatorClaims{op}
		o.TrustedKeys = nil
		o.SystemAccount = a.SystemAccount()
		o.AccountResolver = &resolver{a: a}
		return nil
	}
}

// resolver serves account JWTs from the Authority. Store is ignored: the
// Authority is the only source (updates arrive through PushAccount, which
// nats-server applies without calling Store for a non-tracking resolver).
type resolver struct {
	server.MemAccResolver
	a *brokerid.Authority
}

func (r *resolver) Fetch(name string) (string, error) {
	if j := r.a.AccountJWT(name); j != "" {
		return j, nil
	}
	return "", server.ErrMissingAccount
}

func (r *resolver) Store(string, string) error { return nil }

func (r *resolver) IsReadOnly() bool { return true }

var _ server.AccountResolver = (*resolver)(nil)
