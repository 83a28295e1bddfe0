package kv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/release"
)

// Releases is object store agent_releases: agent binaries for self-update
// (SPEC §13), one object per version and platform, with the signed
// statement in its metadata and headers (internal/release).
type Releases struct{ s *Store }

// ReleaseInfo describes one stored release binary.
type ReleaseInfo struct {
	release.Statement
	KeyID    string // signing key id ("" if the object is unsigned)
	Modified time.Time
	// Headers are the object's headers: the signature an agent verifies.
	Headers map[string][]string
	// Err is set when the object's metadata does not form a valid
	// statement (a hand-written object): listed, never served.
	Err error
}

func releaseInfo(oi *jetstream.ObjectInfo) ReleaseInfo {
	st, err := release.FromMetadata(oi.Name, oi.Metadata)
	if err == nil && uint64(st.Size) != oi.Size {
		err = fmt.Errorf("release %s: metadata says %d bytes, object holds %d", oi.Name, st.Size, oi.Size)
	}
	if err != nil {
		if v, o, a, ok := release.ParseObjectName(oi.Name); ok {
			st = release.Statement{Version: v, OS: o, Arch: a, Size: int64(oi.Size)}
		}
	}
	return ReleaseInfo{Statement: st, KeyID: release.KeyID(oi.Headers), Modified: oi.ModTime, Headers: oi.Headers, Err: err}
}

// Put stores a binary under st.Name() with its signature headers sig,
// replacing an earlier upload of the same version and platform. The
// reader must yield exactly st.Size bytes hashing to st.SHA256; the caller
// computed them (the object store checks its own digest on read).
func (r *Releases) Put(ctx context.Context, st release.Statement, sig map[string][]string, body io.Reader) (ReleaseInfo, error) {
	if err := st.Validate(); err != nil {
		return ReleaseInfo{}, err
	}
	obj, err := r.s.objectStore(ctx, bus.ObjAgentRelease)
	if err != nil {
		return ReleaseInfo{}, err
	}
	oi, err := obj.Put(ctx, jetstream.ObjectMeta{Name: st.Name(), Headers: nats.Header(sig), Metadata: st.Metadata(),
		Description: "kanade-agent " + st.Version + " for " + st.OS + "/" + st.Arch}, body)
	if err != nil {
		return ReleaseInfo{}, fmt.Errorf("put release %s: %w", st.Name(), err)
	}
	if oi.Size != uint64(st.Size) {
		_ = obj.Delete(ctx, st.Name())
		return ReleaseInfo{}, fmt.Errorf("put release %s: stored %d bytes, expected %d", st.Name(), oi.Size, st.Size)
	}
	return releaseInfo(oi), nil
}

// List returns every release, newest upload first.
func (r *Releases) List(ctx context.Context) ([]ReleaseInfo, error) {
	obj, err := r.s.objectStore(ctx, bus.ObjAgentRelease)
	if err != nil {
		return nil, err
	}
	infos, err := obj.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	out := make([]ReleaseInfo, 0, len(infos))
	for _, oi := range infos {
		if _, _, _, ok := release.ParseObjectName(oi.Name); !ok {
			continue // not a release (a hand-made object)
		}
		out = append(out, releaseInfo(oi))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Modified.Equal(out[j].Modified) {
			return out[i].Modified.After(out[j].Modified)
		}
		return out[i].Name() < out[j].Name()
	})
	return out, nil
}

// Info returns one release; ok false when there is none.
func (r *Releases) Info(ctx context.Context, version, goos, arch string) (ReleaseInfo, bool, error) {
	obj, err := r.s.objectStore(ctx, bus.ObjAgentRelease)
	if err != nil {
		return ReleaseInfo{}, false, err
	}
	name := release.ObjectName(version, goos, arch)
	oi, err := obj.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return ReleaseInfo{}, false, nil
	}
	if err != nil {
		return ReleaseInfo{}, false, fmt.Errorf("release %s: %w", name, err)
	}
	return releaseInfo(oi), true, nil
}

// Open streams one release binary; ok false when there is none. A read
// error at the end means the object store's digest did not match.
func (r *Releases) Open(ctx context.Context, version, goos, arch string) (io.ReadCloser, ReleaseInfo, bool, error) {
	obj, err := r.s.objectStore(ctx, bus.ObjAgentRelease)
	if err != nil {
		return nil, ReleaseInfo{}, false, err
	}
	name := release.ObjectName(version, goos, arch)
	rd, err := obj.Get(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, ReleaseInfo{}, false, nil
	}
	if err != nil {
		return nil, ReleaseInfo{}, false, fmt.Errorf("release %s: %w", name, err)
	}
	oi, err := rd.Info()
	if err != nil {
		_ = rd.Close()
		return nil, ReleaseInfo{}, false, fmt.Errorf("release %s: %w", name, err)
	}
	return rd, releaseInfo(oi), true, nil
}

// DeleteVersion removes every platform's binary of version and returns
// the names removed (none: the version is unknown).
func (r *Releases) DeleteVersion(ctx context.Context, version string) ([]string, error) {
	all, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	obj, err := r.s.objectStore(ctx, bus.ObjAgentRelease)
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, ri := range all {
		if ri.Version != version {
			continue
		}
		if err := obj.Delete(ctx, ri.Name()); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return gone, fmt.Errorf("delete release %s: %w", ri.Name(), err)
		}
		gone = append(gone, ri.Name())
	}
	return gone, nil
}
