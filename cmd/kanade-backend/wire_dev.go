package main

import (
	"context"

	"github.com/kanade-fleet/kanade/internal/agent"
	"github.com/kanade-fleet/kanade/internal/backend"
	"github.com/kanade-fleet/kanade/internal/version"
	"github.com/kanade-fleet/kanade/internal/webui"
)

// wireDashboard serves the embedded single-page dashboard at /.
func wireDashboard(cfg *backend.Config) { cfg.UI = webui.Handler() }

// wireDevAgent makes --dev start one in-process agent (pc_id = hostname), so
// the README's first command gives a working one-PC fleet.
func wireDevAgent(cfg *backend.Config) {
	cfg.DevAgent = func(ctx context.Context, natsURL, token, dataDir string) error {
		pc, err := agent.DefaultPCID()
		if err != nil {
			return err
		}
		a, err := agent.New(agent.Options{PCID: pc, NATSURL: natsURL, NATSToken: token,
			DataDir: dataDir, Logger: cfg.Log.With("component", "dev-agent"), Version: version.Version})
		if err != nil {
			return err
		}
		return a.Run(ctx)
	}
}
