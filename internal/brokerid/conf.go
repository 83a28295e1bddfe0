package brokerid

import (
	"fmt"
	"sort"
	"strings"
)

// ServerConfig renders the trust part of an external nats-server.conf:
// the operator, the system account, a full resolver in resolverDir and the
// three account JWTs preloaded, so a new server knows them before the
// backend has pushed anything. Include it from the cluster's own config
// (listen, cluster, TLS, jetstream store_dir stay the operator's).
//
// allow_delete stays off: accounts are never deleted, users are revoked.
func (a *Authority) ServerConfig(resolverDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# kanade broker trust (generated; regenerate after a revocation to keep it current)\n")
	fmt.Fprintf(&b, "operator: %q\n", a.OperatorJWT())
	fmt.Fprintf(&b, "system_account: %q\n", a.SystemAccount())
	fmt.Fprintf(&b, "resolver: {\n  type: full\n  dir: %q\n  allow_delete: false\n  interval: \"2m\"\n  timeout: \"5s\"\n}\n", resolverDir)
	jwts := a.AccountJWTs()
	keys := make([]string, 0, len(jwts))
	for k := range jwts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(&b, "resolver_preload: {\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s: %q\n", k, jwts[k])
	}
	fmt.Fprintf(&b, "}\n")
	return b.String()
}
