package sim

import (
	"context"

	"github.com/kanade-fleet/kanade/internal/api/ops"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/backend"
	"github.com/kanade-fleet/kanade/internal/fanout"
)

// WithOrchestration adds the job/exec routes to an in-process backend
// config (what cmd/kanade-backend wires, minus scheduler and waves, which
// the scenarios do not use).
func WithOrchestration(cfg *backend.Config) {
	cfg.Extra = append(cfg.Extra, func(b *backend.Backend) func(m *auth.Mux) {
		return ops.Orchestration(fanout.New(b.JS, b.NC, b.DB, b.Audit, b.Log), ops.Deps{JS: b.JS, Audit: b.Audit, Log: b.Log})
	})
}

// StartInProcess starts a backend with orchestration routes in this
// process (auth must be disabled through KANADE_AUTH_DISABLE=1).
func StartInProcess(ctx context.Context, cfg backend.Config) (*backend.Backend, error) {
	WithOrchestration(&cfg)
	return backend.Start(ctx, cfg)
}
