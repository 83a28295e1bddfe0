// Package web holds the built dashboard (web/dist), committed so that
// `go build` works without Node. Rebuild with `npm ci && npm run build`.
package web

import "embed"

// Dist is the Vite build output; paths start with "dist/".
//
//go:embed all:dist
var Dist embed.FS
