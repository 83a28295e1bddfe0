package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nats-io/jsm.go"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/broker"
	"github.com/kanade-fleet/kanade/internal/broker/identity"
	"github.com/kanade-fleet/kanade/internal/brokerid"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/dirlock"
)

// ErrCorrupt is returned when a backup's files do not match its manifest.
var ErrCorrupt = errors.New("backup is damaged")

// Target is the stopped backend to restore onto.
type Target struct {
	DataDir string
	// SQLite restores the database file into DataDir (false when the
	// backend uses PostgreSQL: restore its pg_dump instead).
	SQLite bool
	// Broker is an external broker to restore the streams into; nil
	// starts the embedded one on DataDir/jetstream (no listener) for the
	// time of the restore.
	Broker *Broker
	// Force restores into a data dir that is not empty, deleting what is
	// in it first.
	Force bool
	Log   *slog.Logger
}

// projectorConsumers are the durable consumers the restored database's
// projection resumes from: they are deleted after the restore so each
// projector replays its stream over the database, which is older than
// the streams (Run copies it first). Applying a message twice is a no-op
// (at-least-once delivery needs that anyway). The other consumers keep
// their positions: the notification sender sends nothing twice.
var projectorConsumers = [][2]string{
	{bus.StreamEvents, bus.ConsumerEvents}, {bus.StreamResults, bus.ConsumerResults},
	{bus.StreamAudit, bus.ConsumerAudit}, {bus.StreamExecs, bus.ConsumerExecs},
	{bus.StreamInventory, bus.ConsumerInventory}, {bus.StreamAlerts, bus.ConsumerAlerts},
	{bus.StreamNotifyLog, bus.ConsumerNotifyLog},
}

// Verify reads dir's manifest and checks every file against its checksum.
func Verify(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no %s (not a backup, or an unfinished one)", dir, ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", ManifestFile, ErrCorrupt, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%s: format %d, this kanade-backend reads format %d", ManifestFile, m.Format, Format)
	}
	names := make([]string, 0, len(m.Checksums))
	for n := range m.Checksums {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if !filepath.IsLocal(filepath.FromSlash(n)) {
			return nil, fmt.Errorf("%w: path %q leaves the backup", ErrCorrupt, n)
		}
		sum, err := fileSHA256(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if sum != m.Checksums[n] {
			return nil, fmt.Errorf("%w: %s has checksum %s, the manifest says %s", ErrCorrupt, n, sum, m.Checksums[n])
		}
	}
	need := func(n string) error {
		if _, ok := m.Checksums[n]; !ok {
			return fmt.Errorf("%w: %s is not in the manifest", ErrCorrupt, n)
		}
		return nil
	}
	if m.Database == "sqlite" {
		if err := need(DBFile); err != nil {
			return nil, err
		}
	}
	for _, f := range m.Files {
		if err := need("files/" + f); err != nil {
			return nil, err
		}
	}
	for _, s := range m.Streams {
		if err := need("streams/" + s.Name + "/" + jsm.SnapshotMetaFile); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// Restore verifies the backup in from and restores it onto t's data dir,
// which no backend may hold (dirlock) and which must be empty unless
// t.Force.
func Restore(ctx context.Context, from string, t Target) (*Manifest, error) {
	m, wrote, err := restore(ctx, from, t)
	if err != nil && wrote {
		return nil, fmt.Errorf("%w (the data dir %s is partly restored: fix the cause and restore again with --force)", err, t.DataDir)
	}
	return m, err
}

// restore does Restore's work; wrote says whether the data dir was touched.
func restore(ctx context.Context, from string, t Target) (_ *Manifest, wrote bool, err error) {
	log := t.Log
	if log == nil {
		log = slog.Default()
	}
	m, err := Verify(from)
	if err != nil {
		return nil, wrote, err
	}
	if t.SQLite && m.Database != "sqlite" {
		return nil, wrote, fmt.Errorf("the backup holds no SQLite database (it was taken on %s): restore that database with its own tools, or point --db at it", m.Database)
	}
	lock, err := dirlock.Acquire(t.DataDir)
	if err != nil {
		return nil, wrote, fmt.Errorf("refusing to restore: %w; stop the backend first", err)
	}
	defer lock.Release()
	wrote = true
	if err := ensureEmpty(t.DataDir, true); err != nil {
		if !t.Force {
			return nil, false, fmt.Errorf("refusing to restore: %w (use --force to replace its contents)", err)
		}
		if err := clearDir(t.DataDir); err != nil {
			return nil, wrote, err
		}
	}
	if t.SQLite {
		if err := copyFile(filepath.Join(from, DBFile), filepath.Join(t.DataDir, DBFile)); err != nil {
			return nil, wrote, fmt.Errorf("restore database: %w", err)
		}
	}
	for _, f := range m.Files {
		if err := copyFile(filepath.Join(from, "files", f), filepath.Join(t.DataDir, f)); err != nil {
			return nil, wrote, fmt.Errorf("restore %s: %w", f, err)
		}
	}
	nc, stop, err := t.connect(m, log)
	if err != nil {
		return nil, wrote, err
	}
	defer stop()
	mgr, err := jsm.New(nc, jsm.WithTimeout(30*time.Second))
	if err != nil {
		return nil, wrote, err
	}
	for _, s := range m.Streams {
		_, st, err := mgr.RestoreSnapshotFromDirectory(ctx, s.Name, filepath.Join(from, "streams", s.Name))
		if err != nil {
			return nil, wrote, fmt.Errorf("restore stream %s: %w", s.Name, err)
		}
		if st.Msgs != s.Messages || st.LastSeq != s.LastSeq {
			return nil, wrote, fmt.Errorf("restore stream %s: %d messages up to seq %d, the backup had %d up to %d",
				s.Name, st.Msgs, st.LastSeq, s.Messages, s.LastSeq)
		}
		log.Info("stream restored", "stream", s.Name, "messages", st.Msgs, "last_seq", st.LastSeq)
	}
	for _, c := range projectorConsumers {
		if err := mgr.DeleteConsumer(c[0], c[1]); err != nil && !isNotFound(err) {
			return nil, wrote, fmt.Errorf("reset projector consumer %s: %w", c[1], err)
		}
	}
	return m, false, nil
}

// connect reaches the broker the streams go to: the external one, or the
// embedded one started on the data dir without a client listener.
func (t Target) connect(m *Manifest, log *slog.Logger) (*nats.Conn, func(), error) {
	if t.Broker != nil {
		nc, err := t.Broker.Connect(t.DataDir)
		if err != nil {
			return nil, nil, err
		}
		return nc, nc.Close, nil
	}
	var auth *brokerid.Authority
	if m.BrokerAuth == "identity" {
		var err error
		if auth, err = LoadAuthority(t.DataDir); err != nil {
			return nil, nil, err
		}
	}
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", StoreDir: filepath.Join(t.DataDir, "jetstream"), DiskReserve: -1, Log: log,
		Configure: func(o *natsserver.Options) error {
			o.DontListen = true
			if auth != nil {
				return identity.Configure(auth)(o)
			}
			return nil
		}})
	if err != nil {
		return nil, nil, fmt.Errorf("start the embedded broker for the restore: %w", err)
	}
	opts := []nats.Option{nats.InProcessServer(br.Server), nats.Name("kanade-backend restore"), nats.CustomInboxPrefix(bus.InboxBackend)}
	if auth != nil {
		u, err := auth.IssueBackend("kanade-backend-restore")
		if err != nil {
			br.Shutdown()
			return nil, nil, err
		}
		opts = append(opts, nats.UserJWTAndSeed(u.JWT, string(u.Seed)))
	}
	nc, err := nats.Connect("", opts...)
	if err != nil {
		br.Shutdown()
		return nil, nil, fmt.Errorf("connect to the embedded broker: %w", err)
	}
	return nc, func() { _ = nc.Drain(); waitClosed(nc); br.Shutdown() }, nil
}

func waitClosed(nc *nats.Conn) {
	for i := 0; i < 100 && !nc.IsClosed(); i++ {
		time.Sleep(20 * time.Millisecond)
	}
}

func isNotFound(err error) bool {
	var apiErr interface{ NotFoundError() bool }
	if errors.As(err, &apiErr) && apiErr.NotFoundError() {
		return true
	}
	return jsm.IsNatsError(err, 10014) // consumer not found
}

// clearDir deletes everything in dir but the lock file.
func clearDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() == dirlock.FileName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("clear data dir: %w", err)
		}
	}
	return nil
}
