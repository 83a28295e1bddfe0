package update

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/agent/intake"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/release"
	"github.com/kanade-fleet/kanade/internal/sign"
)

// The object store's stream and subjects (the layout of nats.go's object
// store, which the backend writes with).
const (
	objStream = "OBJ_" + bus.ObjAgentRelease
	metaPre   = "$O." + bus.ObjAgentRelease + ".M."
	chunkPre  = "$O." + bus.ObjAgentRelease + ".C."
)

// ErrNoRelease: there is no release of the target for this platform.
var ErrNoRelease = errors.New("no release")

// objectInfo is the part of an object's meta message the agent reads.
type objectInfo struct {
	Name     string              `json:"name"`
	Headers  map[string][]string `json:"headers"`
	Metadata map[string]string   `json:"metadata"`
	NUID     string              `json:"nuid"`
	Size     uint64              `json:"size"`
	Chunks   uint32              `json:"chunks"`
	Digest   string              `json:"digest"`
	Deleted  bool                `json:"deleted"`
}

// lookup reads a release's description: one direct get of its meta
// message, no consumer.
func lookup(ctx context.Context, nc *nats.Conn, name string) (objectInfo, release.Statement, error) {
	m, ok, err := intake.LastMsg(ctx, nc, objStream, metaPre+base64.URLEncoding.EncodeToString([]byte(name)))
	if err != nil {
		return objectInfo{}, release.Statement{}, err
	}
	var oi objectInfo
	if ok {
		if err := json.Unmarshal(m.Data, &oi); err != nil {
			return oi, release.Statement{}, fmt.Errorf("release %s: bad description: %w", name, err)
		}
	}
	if !ok || oi.Deleted {
		return oi, release.Statement{}, fmt.Errorf("%w %s in object store %s", ErrNoRelease, name, bus.ObjAgentRelease)
	}
	if oi.Name != name {
		return oi, release.Statement{}, fmt.Errorf("release %s: description names %q", name, oi.Name)
	}
	st, err := release.FromMetadata(name, oi.Metadata)
	if err != nil {
		return oi, st, fmt.Errorf("release %s: %w", name, err)
	}
	if uint64(st.Size) != oi.Size {
		return oi, st, fmt.Errorf("release %s: statement says %d bytes, object holds %d", name, st.Size, oi.Size)
	}
	return oi, st, nil
}

// progress is a partial download, so a broken connection resumes where it
// stopped instead of starting over.
type progress struct {
	Name    string `json:"name"`
	NUID    string `json:"nuid"`
	NextSeq uint64 `json:"next_seq"`
	Bytes   int64  `json:"bytes"`
}

// download fetches the release into part (resuming a partial file of the
// same object) and verifies size, digest and signature. It returns the
// statement of the verified file.
func download(ctx context.Context, nc *nats.Conn, f Files, name, part string, kr *sign.Keyring) (release.Statement, error) {
	oi, st, err := lookup(ctx, nc, name)
	if err != nil {
		return st, err
	}
	// Verify the signature before spending the bandwidth.
	if kr == nil || kr.Len() == 0 {
		return st, fmt.Errorf("release %s: no command-signing key is trusted yet, so no release can be verified", name)
	}
	if err := release.Verify(kr, st, oi.Headers); err != nil {
		return st, err
	}
	var pr progress
	if ok, _ := f.load("download.json", &pr); !ok || pr.Name != name || pr.NUID != oi.NUID {
		pr = progress{Name: name, NUID: oi.NUID, NextSeq: 1}
	}
	if fi, err := os.Stat(part); err != nil || fi.Size() != pr.Bytes {
		pr = progress{Name: name, NUID: oi.NUID, NextSeq: 1}
	}
	flags := os.O_WRONLY | os.O_CREATE
	if pr.Bytes == 0 {
		flags |= os.O_TRUNC
	}
	out, err := os.OpenFile(part, flags, 0o600)
	if err != nil {
		return st, fmt.Errorf("download %s: %w", name, err)
	}
	defer out.Close()
	if _, err := out.Seek(pr.Bytes, io.SeekStart); err != nil {
		return st, fmt.Errorf("download %s: %w", name, err)
	}
	subj := chunkPre + oi.NUID
	since := 0
	for uint64(pr.Bytes) < oi.Size {
		seq, data, err := nextChunk(ctx, nc, subj, pr.NextSeq)
		if err != nil {
			_ = f.save("download.json", pr)
			return st, fmt.Errorf("download %s at byte %d: %w", name, pr.Bytes, err)
		}
		if uint64(pr.Bytes)+uint64(len(data)) > oi.Size {
			return st, fmt.Errorf("download %s: more data than its %d bytes", name, oi.Size)
		}
		if _, err := out.Write(data); err != nil {
			return st, fmt.Errorf("download %s: %w", name, err)
		}
		pr.Bytes += int64(len(data))
		pr.NextSeq = seq + 1
		if since++; since == 16 { // every 2 MiB: a resume loses little
			since = 0
			if err := out.Sync(); err == nil {
				_ = f.save("download.json", pr)
			}
		}
	}
	if err := out.Sync(); err != nil {
		return st, fmt.Errorf("download %s: %w", name, err)
	}
	_ = f.remove("download.json")
	if err := checkDigest(part, st, oi.Digest); err != nil {
		_ = os.Remove(part) // a corrupt file is not resumed
		return st, err
	}
	return st, nil
}

// nextChunk reads the first message at or after seq on the chunk subject:
// a direct get by sequence, which keeps no state on the broker.
func nextChunk(ctx context.Context, nc *nats.Conn, subj string, seq uint64) (uint64, []byte, error) {
	body, _ := json.Marshal(map[string]any{"seq": seq, "next_by_subj": subj})
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := nc.RequestWithContext(rctx, "$JS.API.DIRECT.GET."+objStream, body)
	if err != nil {
		return 0, nil, err
	}
	if st := resp.Header.Get("Status"); st != "" {
		return 0, nil, fmt.Errorf("chunk after seq %d: status %s %s", seq, st, resp.Header.Get("Description"))
	}
	if got := resp.Header.Get("Nats-Subject"); got != subj {
		return 0, nil, fmt.Errorf("chunk after seq %d: answer is for %q", seq, got)
	}
	n, err := strconv.ParseUint(resp.Header.Get("Nats-Sequence"), 10, 64)
	if err != nil || n < seq {
		return 0, nil, fmt.Errorf("chunk after seq %d: bad sequence %q", seq, resp.Header.Get("Nats-Sequence"))
	}
	return n, resp.Data, nil
}

// checkDigest compares the file with the signed statement (and with the
// object store's own digest, which must agree).
func checkDigest(path string, st release.Statement, objDigest string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return fmt.Errorf("verify %s: %w", st.Name(), err)
	}
	sum := h.Sum(nil)
	if n != st.Size {
		return fmt.Errorf("release %s: downloaded %d bytes, the signed size is %d", st.Name(), n, st.Size)
	}
	if got := hex.EncodeToString(sum); got != st.SHA256 {
		return fmt.Errorf("release %s: sha256 mismatch: downloaded %s, signed %s", st.Name(), got, st.SHA256)
	}
	if objDigest != "" && objDigest != "SHA-256="+base64.URLEncoding.EncodeToString(sum) {
		return fmt.Errorf("release %s: the object store's digest %s does not match the download", st.Name(), objDigest)
	}
	return nil
}
