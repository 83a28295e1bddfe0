package api

import (
	"net/http"
	"net/http/pprof"
	"strings"
)

// debugPprof serves Go's runtime profiles (GET /api/debug/pprof/{name}) to
// admins when the backend was started with --pprof. The route is always in
// the table so its role is pinned and swept like every other; off, it is a
// 404 that says how to turn it on. A profile shows goroutine stacks and
// allocation sites, not secrets, but it costs CPU (a CPU profile runs for
// ?seconds=, default 30), hence admin only and off by default.
func (s *Server) debugPprof(w http.ResponseWriter, r *http.Request) {
	if !s.d.Pprof {
		WriteError(w, http.StatusNotFound, "profiling is off: start the backend with --pprof (KANADE_PPROF=true)", "")
		return
	}
	switch name := strings.TrimSuffix(r.PathValue("name"), "/"); name {
	case "":
		// The index links to "heap?debug=1" etc., relative to this path;
		// it looks for its own name after /debug/pprof/.
		r.URL.Path = "/debug/pprof/"
		pprof.Index(w, r)
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
}
