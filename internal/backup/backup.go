// Package backup copies a kanade backend — its SQLite database, the
// secrets of its data dir and every JetStream stream (KV buckets and
// object stores included) — into a directory with a checksummed manifest,
// and restores such a directory onto a stopped backend's data dir
// (docs/operations.md). Streams are snapshotted and restored with
// github.com/nats-io/jsm.go, the maintained implementation of the
// JetStream snapshot protocol (the layout of each stream's directory is
// the one `nats stream backup` writes).
package backup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/jsm.go"
	"github.com/nats-io/jsm.go/api"
	"github.com/nats-io/nats.go"
	_ "modernc.org/sqlite" // database/sql driver "sqlite" (the store's own)

	"github.com/kanade-fleet/kanade/internal/dirlock"
)

// ManifestFile is written last: a directory without it is no backup.
const ManifestFile = "manifest.json"

// Format is the manifest's layout version.
const Format = 1

// DBFile is the SQLite database's name, in the data dir and the backup.
const DBFile = "backend.db"

// Manifest describes a backup. Checksums covers every file of the backup
// but the manifest itself, by path relative to the backup dir.
type Manifest struct {
	Format    int       `json:"format"`
	Version   string    `json:"kanade_version"`
	CreatedAt time.Time `json:"created_at"`
	// Database is "sqlite" (DBFile holds it) or "postgresql" (not in the
	// backup: pg_dump's job).
	Database string `json:"database"`
	// BrokerAuth is how the broker was run: "identity" (operator JWT
	// mode; the streams live in the KANADE account) or "shared" (token,
	// per-role users or none: the global account).
	BrokerAuth string            `json:"broker_auth"`
	Files      []string          `json:"files"` // data-dir files (secrets)
	Streams    []Stream          `json:"streams"`
	Checksums  map[string]string `json:"sha256"`
}

// Stream is one stream's snapshot, in streams/<name>.
type Stream struct {
	Name      string `json:"name"`
	Messages  uint64 `json:"messages"`
	Bytes     uint64 `json:"bytes"`
	FirstSeq  uint64 `json:"first_seq"`
	LastSeq   uint64 `json:"last_seq"`
	Consumers int    `json:"consumers"`
}

// Source is the live backend to copy.
type Source struct {
	// DataDir is the backend's data dir: its top-level files (secrets:
	// broker keys, signing key, JWT secret, operator creds) are copied.
	DataDir string
	// SQLite is the database file; empty on PostgreSQL.
	SQLite string
	// NC is a connection to the backend's broker with the backend's
	// rights (the JetStream API and its own inbox).
	NC         *nats.Conn
	BrokerAuth string
	Version    string
	Log        *slog.Logger
}

// Run writes a backup of src into dir (created; it must be empty). The
// database is copied first and the streams after, so the streams hold
// everything the database does and more: the restored backend's
// projectors replay the streams over the database (idempotently) and lose
// nothing that happened in between.
func Run(ctx context.Context, src Source, dir string) (*Manifest, error) {
	log := src.Log
	if log == nil {
		log = slog.Default()
	}
	if err := ensureEmpty(dir, false); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("backup dir: %w", err)
	}
	m := &Manifest{Format: Format, Version: src.Version, CreatedAt: time.Now().UTC(), BrokerAuth: src.BrokerAuth,
		Database: "postgresql", Checksums: map[string]string{}}
	if src.SQLite != "" {
		m.Database = "sqlite"
		if err := vacuumInto(ctx, src.SQLite, filepath.Join(dir, DBFile)); err != nil {
			return nil, err
		}
		log.Info("database copied", "file", filepath.Join(dir, DBFile))
	}
	files, err := dataDirFiles(src.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o700); err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := copyFile(filepath.Join(src.DataDir, f), filepath.Join(dir, "files", f)); err != nil {
			return nil, err
		}
		m.Files = append(m.Files, f)
	}
	mgr, err := jsm.New(src.NC, jsm.WithTimeout(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	names, err := mgr.StreamNames(nil)
	if err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	slices.Sort(names)
	for _, name := range names {
		st, err := snapshot(ctx, mgr, name, filepath.Join(dir, "streams", name))
		if err != nil {
			return nil, err
		}
		m.Streams = append(m.Streams, st)
		log.Info("stream copied", "stream", name, "messages", st.Messages, "last_seq", st.LastSeq)
	}
	if err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		sum, err := fileSHA256(path)
		m.Checksums[filepath.ToSlash(rel)] = sum
		return err
	}); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeSynced(filepath.Join(dir, ManifestFile), append(b, '\n')); err != nil {
		return nil, err
	}
	return m, nil
}

func snapshot(ctx context.Context, mgr *jsm.Manager, name, dir string) (Stream, error) {
	s, err := mgr.LoadStream(name)
	if err != nil {
		return Stream{}, fmt.Errorf("stream %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Stream{}, err
	}
	// Consumers come along: the notification sender's and the output
	// assembler's positions must survive (nothing is sent twice).
	if _, err := s.SnapshotToDirectory(ctx, dir, jsm.SnapshotConsumers()); err != nil {
		return Stream{}, fmt.Errorf("snapshot stream %s: %w", name, err)
	}
	// The snapshot's own state (backup.json), not a second look that
	// could be later.
	var meta struct {
		State api.StreamState `json:"state"`
	}
	b, err := os.ReadFile(filepath.Join(dir, jsm.SnapshotMetaFile))
	if err != nil {
		return Stream{}, err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return Stream{}, fmt.Errorf("snapshot of %s: %w", name, err)
	}
	return Stream{Name: name, Messages: meta.State.Msgs, Bytes: meta.State.Bytes, FirstSeq: meta.State.FirstSeq,
		LastSeq: meta.State.LastSeq, Consumers: meta.State.Consumers}, nil
}

// vacuumInto writes a consistent copy of a live SQLite database (WAL mode:
// the backend keeps writing meanwhile) with VACUUM INTO.
func vacuumInto(ctx context.Context, path, to string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", to); err != nil {
		return fmt.Errorf("copy %s (VACUUM INTO): %w", path, err)
	}
	return nil
}

// dataDirFiles are the data dir's top-level regular files that are not the
// database, its WAL, the lock or a damaged database moved aside: the
// backend's secrets.
func dataDirFiles(dataDir string) ([]string, error) {
	ents, err := os.ReadDir(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(n, DBFile) || n == dirlock.FileName {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

// ensureEmpty refuses a directory with anything in it (the lock file of a
// data dir aside when lockOK).
func ensureEmpty(dir string, lockOK bool) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if lockOK && e.Name() == dirlock.FileName {
			continue
		}
		return fmt.Errorf("%s is not empty (%s)", dir, e.Name())
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
