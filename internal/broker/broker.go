// Package broker runs the embedded nats-server (JetStream on) of a
// single-node install. Larger installs point the backend at an external
// cluster instead and this package is not used.
package broker

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/kanade-fleet/kanade/internal/bytesize"
	"github.com/nats-io/nats-server/v2/server"
)

// Options configure the embedded server.
type Options struct {
	Addr     string // host:port clients (agents, CLI) connect to
	StoreDir string // JetStream file store
	Token    string // required of every client when set
	// Configure, when set, may adjust the server options further (users and
	// permissions when broker auth is configured).
	Configure func(*server.Options) error
	Log       *slog.Logger

	// DiskReserve is kept free on the store's filesystem for everything
	// else, the database first (disk.go): 0 = DefaultDiskReserve, negative
	// = no accounting (nats-server's default limit, no Heal).
	DiskReserve int64
	// DBFiles are the SQL database's files (backend.db, -wal), counted
	// against the limit when they are on the store's filesystem.
	DBFiles []string
	// MinFree is the free space Heal waits for before restarting JetStream
	// (0 = DefaultMinFree); HealPause the least time between two restarts
	// (0 = DefaultHealPause).
	MinFree   int64
	HealPause time.Duration
}

// Broker is a running embedded server.
type Broker struct {
	Server *server.Server
	opts   Options
	so     *server.Options
	disk   diskState
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*Broker, error) {
	host, portStr, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("nats-addr %q: %w", o.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("nats-addr %q: bad port", o.Addr)
	}
	if port == 0 {
		port = -1 // any free port (tests)
	}
	so := &server.Options{
		ServerName:         "kanade-embedded",
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           o.StoreDir,
		Authorization:      o.Token,
		NoSigs:             true,
		MaxPayload:         8 << 20,
		JetStreamMaxMemory: 256 << 20,
		// 10 000 agents plus slack; the default is 64k anyway.
		MaxConn: 65536,
	}
	var limit int64
	if o.DiskReserve >= 0 {
		l, ok, err := storeLimit(o.StoreDir, o.DBFiles, o.reserve())
		if err != nil {
			return nil, err
		}
		if ok {
			limit = l
			so.JetStreamMaxStore = l
			if o.Log != nil {
				free, total, _, _ := diskStat(o.StoreDir)
				o.Log.Info("jetstream file storage limit", "limit", bytesize.Format(uint64(l)), "free", bytesize.Format(free), "total", bytesize.Format(total),
					"reserve", bytesize.Format(uint64(o.reserve())), "store", o.StoreDir)
			}
		}
	}
	if o.Configure != nil {
		if err := o.Configure(so); err != nil {
			return nil, fmt.Errorf("configure broker: %w", err)
		}
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("create embedded nats-server: %w", err)
	}
	if o.Log != nil {
		ns.SetLoggerV2(&logAdapter{o.Log}, false, false, false)
	}
	ns.Start() // returns once listening; running it in a goroutine races with Shutdown
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded nats-server on %s not ready after 30s", o.Addr)
	}
	b := &Broker{Server: ns, opts: o, so: so}
	b.disk.limit = limit
	return b, nil
}

// ClientURL is where clients connect.
func (b *Broker) ClientURL() string { return b.Server.ClientURL() }

// Shutdown stops the server and waits for it.
func (b *Broker) Shutdown() {
	b.Server.Shutdown()
	b.Server.WaitForShutdown()
}

type logAdapter struct{ l *slog.Logger }

func (a *logAdapter) Noticef(format string, v ...any) {
	a.l.Info(fmt.Sprintf(format, v...), "component", "nats-server")
}
func (a *logAdapter) Warnf(format string, v ...any) {
	a.l.Warn(fmt.Sprintf(format, v...), "component", "nats-server")
}
func (a *logAdapter) Fatalf(format string, v ...any) {
	a.l.Error(fmt.Sprintf(format, v...), "component", "nats-server")
}
func (a *logAdapter) Errorf(format string, v ...any) {
	a.l.Error(fmt.Sprintf(format, v...), "component", "nats-server")
}
func (a *logAdapter) Debugf(string, ...any) {}
func (a *logAdapter) Tracef(string, ...any) {}
