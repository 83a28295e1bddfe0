package main

import (
	"github.com/kanade-fleet/kanade/internal/backend"
	"github.com/kanade-fleet/kanade/internal/backend/wiring"
)

// wire plugs the optional parts (dashboard, dev agent, orchestration and
// schedule routes, services) into the backend configuration. The wiring
// lives in an importable package so tests run the same route set.
func wire(cfg *backend.Config) { wiring.All(cfg) }
