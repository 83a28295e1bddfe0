package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/enrollment"
	"github.com/kanade-fleet/kanade/internal/install"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/release"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/store"
)

// enrollmentTokenOK checks the ?token= of a public installer route
// without consuming it, throttled per client address like POST
// /api/enroll (a token is a secret; guessing one is what this stops). A
// refusal is a 401 that says nothing of the release asked for. The token
// is never logged.
func (s *Server) enrollmentTokenOK(w http.ResponseWriter, r *http.Request) bool {
	e, ok := s.enrollment(w)
	if !ok {
		return false
	}
	wait, ip := s.enrollThrottle.Blocked(r)
	if wait > 0 {
		auth.RetryAfter(w, wait)
		WriteError(w, http.StatusTooManyRequests, "too many failed enrollment tokens from this address; retry later", "")
		return false
	}
	err := e.CheckToken(r.Context(), r.URL.Query().Get("token"))
	var msg string
	switch {
	case err == nil:
		return true
	case errors.Is(err, enrollment.ErrTokenMalformed):
		msg = "malformed enrollment token (?token= must be a token from POST /api/enrollment-tokens)"
	case errors.Is(err, store.ErrTokenUnknown):
		msg = "unknown enrollment token"
	case errors.Is(err, store.ErrTokenSpent):
		msg = "enrollment token expired or used up; create another (POST /api/enrollment-tokens)"
	default:
		s.fail(w, r, err)
		return false
	}
	s.enrollThrottle.Failure(ip)
	w.Header().Set("WWW-Authenticate", `Bearer realm="kanade"`)
	WriteError(w, http.StatusUnauthorized, msg, "token")
	return false
}

// downloadRelease serves GET /api/releases/{version}/{platform}. It is a
// public route of the table because it takes either credential: a
// session or API token of a viewer (checked here exactly as the route
// guard would), or ?token= holding a usable enrollment token (the
// installer's script), which the download does not consume.
func (s *Server) downloadRelease(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("token") {
		if s.enrollmentTokenOK(w, r) {
			s.serveRelease(w, r)
		}
		return
	}
	s.d.Auth.Wrap(auth.RoleViewer, http.HandlerFunc(s.serveRelease)).ServeHTTP(w, r)
}

func (s *Server) serveRelease(w http.ResponseWriter, r *http.Request) {
	rs, ok := s.releases(w)
	if !ok {
		return
	}
	version, platform := r.PathValue("version"), r.PathValue("platform")
	goos, arch, _ := strings.Cut(platform, "-")
	if err := release.ValidVersion(version); err != nil {
		WriteError(w, http.StatusBadRequest, err.Error(), "version")
		return
	}
	if err := release.ValidPlatform(goos, arch); err != nil {
		WriteError(w, http.StatusBadRequest, "platform is os-arch: "+err.Error(), "platform")
		return
	}
	rd, ri, found, err := rs.Open(r.Context(), version, goos, arch)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !found {
		WriteError(w, http.StatusNotFound, "no release "+version+" for "+platform, "version")
		return
	}
	defer rd.Close()
	if err := servable(ri); err != nil {
		// A hand-written object: listed so it can be deleted, never served.
		WriteError(w, http.StatusConflict, "release "+version+" for "+platform+" is not a valid signed release and is not served: "+err.Error(), "version")
		return
	}
	name := "kanade-agent"
	if goos == "windows" {
		name += ".exe"
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(ri.Size, 10))
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set(apiv1.HeaderReleaseSHA256, ri.SHA256)
	h.Set(apiv1.HeaderReleaseVersion, ri.Version)
	h.Set(sign.HeaderKeyID, ri.KeyID)
	h.Set(sign.HeaderSignature, ri.Headers[sign.HeaderSignature][0])
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, rd); err != nil && !errors.Is(err, context.Canceled) {
		// The status is sent: cut the connection so the client sees a
		// short body (the object store's digest check fails at the end).
		s.d.Log.Error("release download cut short", "release", ri.Name(), "error", err)
		panic(http.ErrAbortHandler)
	}
}

// servable says why a stored release is not served (nil: it is): its
// metadata is not a valid statement, or it carries no signature (an
// agent would refuse it).
func servable(ri kv.ReleaseInfo) error {
	if ri.Err != nil {
		return ri.Err
	}
	if len(ri.Headers[sign.HeaderSignature]) != 1 || ri.KeyID == "" {
		return errors.New("the object carries no signature (Kanade-Key-Id, Kanade-Signature)")
	}
	return nil
}

// installScript serves GET /api/install/{os}?token=T: the installer
// script for os (public; the enrollment token is the credential and is
// not consumed). The release is chosen here and baked in: the global
// agent_config target_version when set, else the newest upload for os.
// The server URL baked in is the one the request came to (see baseURL).
func (s *Server) installScript(w http.ResponseWriter, r *http.Request) {
	goos := r.PathValue("os")
	if !slices.Contains(release.OSes, goos) {
		WriteError(w, http.StatusNotFound, "no installer for os "+strconv.Quote(goos)+" (one of "+strings.Join(release.OSes, ", ")+")", "os")
		return
	}
	if !s.enrollmentTokenOK(w, r) {
		return
	}
	rs, ok := s.releases(w)
	if !ok {
		return
	}
	all, err := rs.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	target := ""
	if sc, _, err := s.d.Config.Scope(r.Context(), kv.GlobalScope); err != nil {
		s.fail(w, r, err)
		return
	} else if sc != nil && sc.TargetVersion != nil {
		target = *sc.TargetVersion
	}
	version, arches := pickRelease(all, goos, target)
	if version == "" {
		msg := "no agent release for " + goos + " is uploaded (kanade release upload FILE --version V --os " + goos + " --arch ARCH)"
		if target != "" {
			msg = "the global target_version " + target + " has no release for " + goos + " (upload one, or change target_version)"
		}
		WriteError(w, http.StatusConflict, msg, "")
		return
	}
	base, err := s.baseURL(r)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error(), "host")
		return
	}
	script, err := install.Script(install.Params{OS: goos, Server: base, Token: r.URL.Query().Get("token"), Version: version, Arches: arches})
	if err != nil {
		var fe *install.FieldError
		if errors.As(err, &fe) {
			WriteError(w, http.StatusBadRequest, fe.Msg, fe.Field)
			return
		}
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", install.ContentType(goos))
	w.Header().Set("Cache-Control", "no-store") // the token is in it
	w.Header().Set(apiv1.HeaderReleaseVersion, version)
	_, _ = w.Write(script)
}

// pickRelease returns the version to install on goos and the arches it
// has a servable binary for: target when set, else the newest upload for
// goos ("" when there is none); only servable binaries count.
func pickRelease(all []kv.ReleaseInfo, goos, target string) (string, []string) {
	version := target
	if version == "" {
		for _, ri := range all { // newest upload first
			if servable(ri) == nil && ri.OS == goos {
				version = ri.Version
				break
			}
		}
	}
	var arches []string
	for _, ri := range all {
		if servable(ri) == nil && ri.OS == goos && ri.Version == version && !slices.Contains(arches, ri.Arch) {
			arches = append(arches, ri.Arch)
		}
	}
	if len(arches) == 0 {
		return "", nil
	}
	slices.Sort(arches)
	return version, arches
}

// baseURL is the URL this request came to, for the script to download
// from and enroll with: the Host header and the connection's TLS state.
// X-Forwarded-Proto and X-Forwarded-Host count only when the peer is a
// trusted proxy (KANADE_TRUSTED_PROXIES, as for client addresses);
// anyone else could point the script elsewhere. The host is checked
// before it goes anywhere near a script.
func (s *Server) baseURL(r *http.Request) (string, error) {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if s.d.Auth.FromTrustedProxy(r) {
		if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" {
			host = h
		}
	}
	if !install.ValidHost(host) {
		return "", errors.New("the request's host " + strconv.Quote(host) + " cannot be the server URL of an install script")
	}
	u := scheme + "://" + host
	if err := install.ValidServer(u); err != nil {
		return "", err
	}
	return u, nil
}

// firstValue is the first of a comma-separated header (the hop nearest
// the client).
func firstValue(v string) string {
	f, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(f)
}
