package bus

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnectOptions configures a client connection.
type ConnectOptions struct {
	URL      string // comma-separated list of servers
	Token    string
	User     string
	Password string
	Name     string // e.g. "kanade-agent/<pc>" or "kanade-backend"
	Logger   *slog.Logger
	// MaxReconnects < 0 means forever (agents); the backend sets a bound so a
	// broker that is gone for good makes it exit rather than serve stale data.
	MaxReconnects int
	// OnClosed is called when the connection is closed for good.
	OnClosed func()
	// OnReconnect is called after every successful reconnect.
	OnReconnect func()
	// OnDisconnect is called when the connection drops.
	OnDisconnect func()
	// InProcess connects to an embedded server without TCP.
	InProcess nats.InProcessConnProvider
	// InboxPrefix replaces "_INBOX" for this connection's replies (see
	// InboxBackend).
	InboxPrefix string
	// Options are applied after the defaults (credentials files, error
	// handlers).
	Options []nats.Option
}

// InboxBackend is the backend's reply-subject prefix. Agents may subscribe
// to _INBOX.> (their own request replies), so the backend's replies —
// projector deliveries carrying every PC's output, job manifests read
// from KV — travel under a prefix agents are not allowed to subscribe to.
const InboxBackend = "_INBOX_kanade_backend"

// Connect dials the broker with jittered reconnects.
func Connect(o ConnectOptions) (*nats.Conn, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(o.MaxReconnects),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(500*time.Millisecond, 2*time.Second),
		nats.RetryOnFailedConnect(o.MaxReconnects < 0),
		nats.PingInterval(20 * time.Second),
		nats.Timeout(10 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("broker disconnected", "error", err)
			if o.OnDisconnect != nil {
				o.OnDisconnect()
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("broker reconnected", "url", nc.ConnectedUrlRedacted())
			if o.OnReconnect != nil {
				o.OnReconnect()
			}
		}),
		nats.ClosedHandler(func(_ *nats.Conn) {
			if o.OnClosed != nil {
				o.OnClosed()
			}
		}),
	}
	if o.InProcess != nil {
		opts = append(opts, nats.InProcessServer(o.InProcess))
	}
	if o.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(o.InboxPrefix))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	opts = append(opts, o.Options...)
	url := strings.TrimSpace(o.URL)
	if url == "" {
		url = nats.DefaultURL
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to broker %s: %w", url, err)
	}
	return nc, nil
}
