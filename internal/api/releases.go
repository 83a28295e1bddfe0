package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bytesize"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/release"
	"github.com/kanade-fleet/kanade/internal/release/exe"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/store"
)

// DefaultReleaseMaxBytes bounds one uploaded agent binary
// (--release-max-bytes): a kanade-agent is tens of MiB.
const DefaultReleaseMaxBytes int64 = 256 << 20

// releaseUploadTime is how long one upload may take to arrive. The HTTP
// server's read timeout (60 s) is for JSON bodies, not a binary of
// hundreds of MiB over a slow link; only an operator's request, past the
// role check, gets the longer deadline.
const releaseUploadTime = 30 * time.Minute

// releasesPath is the upload route's path: its body cap is its own.
const releasesPath = "/api/releases"

// Releases is object store agent_releases (*kv.Releases).
type Releases interface {
	Put(ctx context.Context, st release.Statement, sig map[string][]string, body io.Reader) (kv.ReleaseInfo, error)
	List(ctx context.Context) ([]kv.ReleaseInfo, error)
	Info(ctx context.Context, version, goos, arch string) (kv.ReleaseInfo, bool, error)
	DeleteVersion(ctx context.Context, version string) ([]string, error)
	Open(ctx context.Context, version, goos, arch string) (io.ReadCloser, kv.ReleaseInfo, bool, error)
}

// TargetVersions reads every config scope's target_version
// (*kv.AgentConfig).
type TargetVersions interface {
	TargetVersions(ctx context.Context) (map[string]string, error)
}

// ReleaseDeps are what the release routes need (SPEC §13).
type ReleaseDeps struct {
	Store    Releases       // nil: the release routes answer 503
	Signer   *sign.Signer   // the command-signing key, which signs each upload
	Targets  TargetVersions // nil: a deletion does not look for scopes still targeting it
	MaxBytes int64          // largest binary accepted (0 = DefaultReleaseMaxBytes)
	TempDir  string         // where an upload is spooled while it is hashed ("" = os.TempDir())
}

func (s *Server) releaseMax() int64 {
	if s.d.Releases.MaxBytes > 0 {
		return s.d.Releases.MaxBytes
	}
	return DefaultReleaseMaxBytes
}

func (s *Server) releases(w http.ResponseWriter) (Releases, bool) {
	if s.d.Releases.Store == nil {
		WriteError(w, http.StatusServiceUnavailable, "releases are not available on this backend", "")
		return nil, false
	}
	return s.d.Releases.Store, true
}

func releaseOut(ri kv.ReleaseInfo) apiv1.Release {
	out := apiv1.Release{Version: ri.Version, OS: ri.OS, Arch: ri.Arch, Size: ri.Size, SHA256: ri.SHA256,
		KeyID: ri.KeyID, UploadedAt: ri.Modified.UTC()}
	if ri.Err != nil {
		out.Error = ri.Err.Error()
	}
	return out
}

// writeReleaseErr answers a *release.FieldError with a 422 naming its
// field; false when err is not one.
func writeReleaseErr(w http.ResponseWriter, err error) bool {
	var fe *release.FieldError
	if !errors.As(err, &fe) {
		return false
	}
	fieldErr(w, fe.Field, fe.Msg)
	return true
}

// releaseQuery reads version, os and arch, each at most once.
func releaseQuery(r *http.Request) (release.Statement, error) {
	q := r.URL.Query()
	var st release.Statement
	for _, p := range []struct {
		name string
		dst  *string
	}{{"version", &st.Version}, {"os", &st.OS}, {"arch", &st.Arch}} {
		switch v := q[p.name]; len(v) {
		case 0:
			return st, &release.FieldError{Field: p.name, Msg: "is required"}
		case 1:
			*p.dst = v[0]
		default:
			return st, &release.FieldError{Field: p.name, Msg: "is given more than once"}
		}
	}
	if err := release.ValidVersion(st.Version); err != nil {
		if len(st.Version) > 64 {
			err = &release.FieldError{Field: "version", Msg: fmt.Sprintf("must be 1 to 64 characters (got %d)", len(st.Version))}
		}
		return st, err
	}
	// Do not echo a long junk value back into the error.
	if len(st.OS) > 16 {
		return st, &release.FieldError{Field: "os", Msg: "must be one of " + strings.Join(release.OSes, ", ")}
	}
	if len(st.Arch) > 16 {
		return st, &release.FieldError{Field: "arch", Msg: "must be one of " + strings.Join(release.Arches, ", ")}
	}
	return st, release.ValidPlatform(st.OS, st.Arch)
}

// formatOf names the executable format an OS runs.
func formatOf(goos string) string {
	switch goos {
	case "linux":
		return "an ELF executable"
	case "darwin":
		return "a Mach-O executable (thin or universal)"
	case "windows":
		return "a PE (.exe) executable"
	}
	return "an executable"
}

func conflictRelease(w http.ResponseWriter, st release.Statement) {
	WriteError(w, http.StatusConflict, fmt.Sprintf("release %s for %s/%s exists; releases are immutable: delete the version first (DELETE /api/releases/%s) or upload a new version",
		st.Version, st.OS, st.Arch, st.Version), "version")
}

// uploadRelease is POST /api/releases?version=&os=&arch=: the body is the
// binary. It is spooled to a temporary file while hashed (never held in
// memory), checked to be an executable of that OS and arch, signed with
// the command-signing key and stored; an existing version/os/arch is a
// 409 (a release never changes under the agents that verified it).
func (s *Server) uploadRelease(w http.ResponseWriter, r *http.Request) {
	rs, ok := s.releases(w)
	if !ok {
		return
	}
	if s.d.Releases.Signer == nil {
		WriteError(w, http.StatusServiceUnavailable, "this backend has no signing key to sign releases with", "")
		return
	}
	st, err := releaseQuery(r)
	if err != nil {
		writeReleaseErr(w, err)
		return
	}
	ctx := r.Context()
	// Refuse a duplicate before reading hundreds of MiB.
	if _, exists, err := rs.Info(ctx, st.Version, st.OS, st.Arch); err != nil {
		s.fail(w, r, err)
		return
	} else if exists {
		conflictRelease(w, st)
		return
	}
	if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(releaseUploadTime)); err != nil {
		s.d.Log.Warn("release upload keeps the server's read timeout", "error", err)
	}
	f, sum, n, err := spool(s.d.Releases.TempDir, r.Body)
	if f != nil {
		defer func() {
			_ = f.Close()
			_ = os.Remove(f.Name()) // already gone except on Windows
		}()
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the binary is larger than the release limit of %s (%d bytes; --release-max-bytes)",
			bytesize.Format(uint64(mbe.Limit)), mbe.Limit), "file")
		return
	case errors.Is(err, errUploadBroken):
		// Answered even when the client is gone: a half-closed one reads it.
		WriteError(w, http.StatusBadRequest, err.Error(), "file")
		s.d.Log.Warn("release upload cut short", "release", st.Name(), "received", n, "error", err)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	case n == 0:
		fieldErr(w, "file", "the body is empty: send the agent binary (application/octet-stream)")
		return
	}
	info, err := exe.Identify(f, n)
	var ne *exe.NotExecutableError
	switch {
	case errors.As(err, &ne):
		fieldErr(w, "file", fmt.Sprintf("the file is %s; a %s release must be %s", ne.What, st.OS, formatOf(st.OS)))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	case info.OS != st.OS:
		fieldErr(w, "file", fmt.Sprintf("the file is %s, not %s for %s", info, formatOf(st.OS), st.OS))
		return
	case !info.Has(st.Arch):
		fieldErr(w, "arch", fmt.Sprintf("the file is %s, not for %s", info, st.Arch))
		return
	}
	st.SHA256, st.Size = hex.EncodeToString(sum), n
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		s.fail(w, r, fmt.Errorf("rewind upload: %w", err))
		return
	}
	// Check and store under one lock, so two uploads of the same release
	// to this replica cannot both pass the check.
	s.releaseMu.Lock()
	defer s.releaseMu.Unlock()
	if _, exists, err := rs.Info(ctx, st.Version, st.OS, st.Arch); err != nil {
		s.fail(w, r, err)
		return
	} else if exists {
		conflictRelease(w, st)
		return
	}
	ri, err := rs.Put(ctx, st, release.Sign(s.d.Releases.Signer, st), f)
	if err != nil {
		if !writeReleaseErr(w, err) {
			s.fail(w, r, err)
		}
		return
	}
	s.d.Log.Info("release uploaded", "release", st.Name(), "sha256", st.SHA256, "size", st.Size, "key_id", ri.KeyID, "by", Actor(r))
	s.auditf(r, "release.upload", st.Name(), map[string]any{"version": st.Version, "os": st.OS, "arch": st.Arch,
		"sha256": st.SHA256, "size": st.Size, "key_id": ri.KeyID})
	WriteJSON(w, http.StatusCreated, releaseOut(ri))
}

// errUploadBroken wraps a body that could not be read to its end (the
// client went away, or sent less than it declared).
var errUploadBroken = errors.New("the upload ended early")

// spool copies body into a new temporary file in dir while hashing it. On
// Unix the file is unlinked at once, so nothing is left behind whatever
// happens to the process; the caller closes (and on Windows removes) it.
func spool(dir string, body io.Reader) (*os.File, []byte, int64, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, 0, fmt.Errorf("release upload dir: %w", err)
	}
	f, err := os.CreateTemp(dir, "release-upload-*")
	if err != nil {
		return nil, nil, 0, fmt.Errorf("release upload file: %w", err)
	}
	if runtime.GOOS != "windows" {
		_ = os.Remove(f.Name())
	}
	h := sha256.New()
	if body == nil {
		body = http.NoBody
	}
	n, err := io.Copy(io.MultiWriter(f, h), bodyReader{body})
	var be bodyErr
	switch {
	case errors.As(err, &be):
		var mbe *http.MaxBytesError
		if errors.As(be.err, &mbe) {
			return f, nil, n, be.err
		}
		return f, nil, n, fmt.Errorf("%w after %d bytes: %v", errUploadBroken, n, be.err)
	case err != nil:
		return f, nil, n, fmt.Errorf("spool release upload: %w", err)
	}
	return f, h.Sum(nil), n, nil
}

// bodyReader marks read errors of the request body, to tell them from
// write errors of the temporary file.
type bodyReader struct{ r io.Reader }

type bodyErr struct{ err error }

func (e bodyErr) Error() string { return e.err.Error() }
func (e bodyErr) Unwrap() error { return e.err }

func (b bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = bodyErr{err}
	}
	return n, err
}

// listReleases is GET /api/releases: every stored release, newest upload
// first, paged like the other small lists held whole in memory.
func (s *Server) listReleases(w http.ResponseWriter, r *http.Request) {
	rs, ok := s.releases(w)
	if !ok {
		return
	}
	key := func(rel apiv1.Release) (time.Time, string) {
		return rel.UploadedAt, release.ObjectName(rel.Version, rel.OS, rel.Arch)
	}
	newestFirst(s, w, r, func(ctx context.Context) ([]apiv1.Release, error) {
		all, err := rs.List(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]apiv1.Release, len(all))
		for i, ri := range all {
			out[i] = releaseOut(ri)
		}
		// The cursor's order: the stored timestamp's precision, then the name.
		sort.SliceStable(out, func(i, j int) bool {
			ti, ni := key(out[i])
			tj, nj := key(out[j])
			if a, b := store.TS(ti), store.TS(tj); a != b {
				return a > b
			}
			return ni < nj
		})
		return out, nil
	}, key)
}

// deleteRelease is DELETE /api/releases/{version}: every platform's binary
// of that version. A version some scope still names as target_version is
// deleted all the same (the operator decides), and the answer lists those
// scopes: their agents cannot download it any more.
func (s *Server) deleteRelease(w http.ResponseWriter, r *http.Request) {
	rs, ok := s.releases(w)
	if !ok {
		return
	}
	version := r.PathValue("version")
	if err := release.ValidVersion(version); err != nil {
		if len(version) > 64 {
			err = &release.FieldError{Field: "version", Msg: "must be 1 to 64 characters"}
		}
		writeReleaseErr(w, err)
		return
	}
	gone, err := rs.DeleteVersion(r.Context(), version)
	if err != nil {
		if len(gone) > 0 {
			s.auditf(r, "release.delete", version, map[string]any{"deleted": gone, "error": err.Error()})
		}
		s.fail(w, r, err)
		return
	}
	if len(gone) == 0 {
		WriteError(w, http.StatusNotFound, "no release of this version", "version")
		return
	}
	out := apiv1.DeletedRelease{Version: version, Deleted: gone}
	if t := s.d.Releases.Targets; t != nil {
		targets, err := t.TargetVersions(r.Context())
		if err != nil {
			s.d.Log.Warn("release deleted; cannot check which scopes target it", "version", version, "error", err)
		}
		for scope, v := range targets {
			if v == version {
				out.TargetOf = append(out.TargetOf, scope)
			}
		}
		slices.Sort(out.TargetOf)
	}
	payload := map[string]any{"deleted": gone}
	if len(out.TargetOf) > 0 {
		payload["target_of"] = out.TargetOf
		s.d.Log.Warn("deleted a release that is still a target_version: those agents cannot download it",
			"version", version, "scopes", out.TargetOf)
	}
	s.d.Log.Info("release deleted", "version", version, "deleted", gone, "by", Actor(r))
	s.auditf(r, "release.delete", version, payload)
	WriteJSON(w, http.StatusOK, out)
}
