package backup

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/brokerid"
	"github.com/kanade-fleet/kanade/internal/bus"
)

// BrokerKeysFile is the trust chain in the data dir (server.BrokerKeysFile).
const BrokerKeysFile = "broker-keys.json"

// Broker is how to reach a backend's broker with the backend's rights.
type Broker struct {
	URL            string // comma-separated
	Token          string
	User, Password string
	// Identity: operator JWT mode; a backend credential is minted from
	// the data dir's BrokerKeysFile.
	Identity bool
}

// Auth names the broker mode for the manifest.
func (b Broker) Auth() string {
	if b.Identity {
		return "identity"
	}
	return "shared"
}

// Connect connects with the backend's inbox prefix (the backend user's
// replies arrive there).
func (b Broker) Connect(dataDir string) (*nats.Conn, error) {
	co := bus.ConnectOptions{URL: b.URL, Token: b.Token, User: b.User, Password: b.Password, Name: "kanade-backend backup",
		InboxPrefix: bus.InboxBackend, MaxReconnects: 5}
	if b.Identity {
		a, err := LoadAuthority(dataDir)
		if err != nil {
			return nil, err
		}
		u, err := a.IssueBackend("kanade-backend-backup")
		if err != nil {
			return nil, err
		}
		co.Token = ""
		co.Options = append(co.Options, nats.UserJWTAndSeed(u.JWT, string(u.Seed)))
	}
	co.Options = append(co.Options, nats.Timeout(10*time.Second))
	nc, err := bus.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("connect to the broker at %s: %w", b.URL, err)
	}
	return nc, nil
}

// LoadAuthority loads the data dir's existing trust chain (never creates
// one: a new chain would lock every enrolled agent out).
func LoadAuthority(dataDir string) (*brokerid.Authority, error) {
	path := filepath.Join(dataDir, BrokerKeysFile)
	keys, err := brokerid.LoadKeys(path)
	if err != nil {
		return nil, fmt.Errorf("broker identity keys: %w", err)
	}
	return brokerid.New(keys, nil)
}
