package main

import "github.com/kanade-fleet/kanade/internal/backend"

// wire plugs the optional parts (dashboard, dev agent, orchestration
// routes and services) into the backend configuration.
func wire(cfg *backend.Config) {}
