package broker

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/kanade-fleet/kanade/internal/bus"
)

// Credential is one user/password pair of the broker. Password may be a
// bcrypt hash ("$2a$…"), which nats-server accepts in place of the plain
// text, so the backend need not hold agents' plain passwords.
type Credential struct {
	User     string
	Password string
}

// RoleCredentials are the broker accounts per role. With them set, the
// embedded server requires a user/password instead of the shared token.
type RoleCredentials struct {
	Backend  Credential // everything
	Agent    Credential // shared by every agent (see docs/security.md)
	Operator Credential // the kanade CLI
}

// AgentKVReads are the KV buckets an agent may read with direct gets.
var AgentKVReads = []string{bus.KVScriptCurrent, bus.KVScriptStatus, bus.KVAgentGroups, bus.KVAgentConfig, bus.KVSigningKeys}

// AgentKVWatches are the KV buckets whose change notifications an agent
// receives: a KV put is also a plain message on $KV.<bucket>.<key>, so the
// agent follows its groups and config with core subscriptions instead of
// one consumer per agent.
var AgentKVWatches = []string{bus.KVAgentGroups, bus.KVAgentConfig, bus.KVSigningKeys}

// AgentObjectReads are the object stores an agent may read (self-update).
var AgentObjectReads = []string{bus.ObjAgentRelease}

// readStreamAPI lists the JetStream API subjects that read stream s without
// creating anything on the server: info, direct gets and message gets.
// Consumers are deliberately absent: a consumer's deliver subject is chosen
// by its creator and the server publishes there with its own rights, so an
// agent allowed to create one could re-deliver a stored command to
// commands.all or another PC's subject.
func readStreamAPI(s string) []string {
	return []string{
		"$JS.API.STREAM.INFO." + s,
		"$JS.API.DIRECT.GET." + s,
		"$JS.API.DIRECT.GET." + s + ".>",
		"$JS.API.STREAM.MSG.GET." + s,
	}
}

// AgentPermissions: publish only events, results, heartbeats, output
// chunks, replies to requests it received (allow_responses: no blanket
// _INBOX publish, so an agent cannot forge PubAcks or other PCs' ping
// answers) and the read-only
// JetStream API it needs. Commands, kills, pings, KV/object writes, audit,
// execution requests (EXECS), stream changes and consumers are denied
// outright, even if a later allow
// would match. Subscriptions: commands, kills, its pings, the watched KV
// buckets' change subjects and _INBOX replies (the backend uses its own
// inbox prefix, bus.InboxBackend, so agents cannot read its replies).
func AgentPermissions() *server.Permissions {
	pub := []string{"events.>", "results.>", "heartbeat.>", "output.>", "$JS.API.INFO"}
	pub = append(pub, readStreamAPI(bus.StreamExec)...)
	for _, b := range AgentKVReads {
		pub = append(pub, readStreamAPI("KV_"+b)...)
	}
	for _, o := range AgentObjectReads {
		pub = append(pub, readStreamAPI("OBJ_"+o)...)
	}
	sub := []string{"commands.>", "kill.>", "agents.*.ping", "_INBOX.>"}
	for _, b := range AgentKVWatches {
		sub = append(sub, "$KV."+b+".>")
	}
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: pub,
			Deny: []string{"commands.>", "kill.>", "audit.>", "execs.>", "agents.>", "$KV.>", "$O.>",
				"$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>",
				"$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>", "$JS.API.CONSUMER.>"},
		},
		Subscribe: &server.SubjectPermission{Allow: sub},
		Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
	}
}

// OperatorPermissions (kanade CLI): send commands and kills, ping agents,
// use the whole JetStream API (status, stream reads, KV), and read replies
// on its inboxes.
func OperatorPermissions() *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: []string{"commands.>", "kill.>", "agents.*.ping", "$JS.API.>", "$JS.ACK.>", "$JS.FC.>",
				// KV writes: $JS.API.> already allows far more (stream deletes).
				"$KV.>"},
		},
		Subscribe: &server.SubjectPermission{
			Allow: []string{"_INBOX.>", "results.>", "events.>", "heartbeat.>"},
		},
		Response: &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
	}
}

// Users returns the nats-server users for c; the backend has no
// permission limits.
func (c RoleCredentials) Users() ([]*server.User, error) {
	var errs []error
	seen := map[string]bool{}
	for _, x := range []struct {
		role string
		cr   Credential
	}{{"backend", c.Backend}, {"agent", c.Agent}, {"operator", c.Operator}} {
		switch {
		case x.cr.User == "" || x.cr.Password == "":
			errs = append(errs, fmt.Errorf("broker %s credential: user and password are required", x.role))
		case seen[x.cr.User]:
			errs = append(errs, fmt.Errorf("broker %s credential: user %q used for two roles", x.role, x.cr.User))
		}
		seen[x.cr.User] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return []*server.User{
		{Username: c.Backend.User, Password: c.Backend.Password},
		{Username: c.Agent.User, Password: c.Agent.Password, Permissions: AgentPermissions()},
		{Username: c.Operator.User, Password: c.Operator.Password, Permissions: OperatorPermissions()},
	}, nil
}

// ConfigureAuth returns an Options.Configure hook that installs the role
// users. It replaces the shared token (nats-server refuses both at once).
func ConfigureAuth(c RoleCredentials) func(*server.Options) error {
	return func(o *server.Options) error {
		users, err := c.Users()
		if err != nil {
			return err
		}
		o.Authorization = ""
		o.Users = users
		return nil
	}
}
