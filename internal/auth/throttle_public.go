package auth

import (
	"net/http"
	"time"
)

// Throttle is the login's per-IP failure throttle (IPMaxFailures within
// IPWindow, IPv6 per /64, X-Forwarded-For only from trusted proxies) for
// another public route: POST /api/enroll guesses tokens the way a login
// guesses passwords. Each Throttle counts on its own.
type Throttle struct {
	a *Authenticator
	t *ipThrottle
}

// NewThrottle returns a fresh throttle under a's proxy setting and clock.
func (a *Authenticator) NewThrottle() *Throttle { return &Throttle{a: a, t: newIPThrottle()} }

// Blocked returns how long r's client must wait (0: go ahead) and its IP.
func (t *Throttle) Blocked(r *http.Request) (time.Duration, string) {
	ip := t.a.ClientIP(r)
	return t.t.blocked(throttleKey(ip), t.a.now()), ip
}

// Failure counts one failed attempt of ip.
func (t *Throttle) Failure(ip string) { t.t.failure(throttleKey(ip), t.a.now()) }

// RetryAfter sets the Retry-After header for a wait of d.
func RetryAfter(w http.ResponseWriter, d time.Duration) { setRetryAfter(w, d) }
