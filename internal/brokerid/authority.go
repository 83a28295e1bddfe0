package brokerid

import (
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Authority issues every broker JWT of an install from its Keys and keeps
// the revocations. It holds the current account JWTs (re-signed on every
// change) so an embedded server's resolver can read them directly and an
// external cluster gets them pushed (PushAccount).
type Authority struct {
	keys *Keys

	mu sync.Mutex
	// revoked: user public key → unix seconds; every JWT of that key issued
	// at or before that second is refused (nats-server semantics).
	revoked    map[string]map[string]int64 // account public key → revocations
	accountJWT map[string]string           // account public key → JWT
	operator   string
}

// New builds an Authority. revoked is the persisted revocation state
// (Revocations of an earlier run), keyed by account public key; nil for a
// new install.
func New(keys *Keys, revoked map[string]map[string]int64) (*Authority, error) {
	a := &Authority{keys: keys, revoked: map[string]map[string]int64{}, accountJWT: map[string]string{}}
	for acc, m := range revoked {
		a.revoked[acc] = maps.Clone(m)
	}
	op := jwt.NewOperatorClaims(pub(keys.Operator))
	op.Name = "kanade"
	op.SystemAccount = pub(keys.System)
	var err error
	if a.operator, err = op.Encode(keys.Operator); err != nil {
		return nil, fmt.Errorf("sign operator JWT: %w", err)
	}
	for _, acc := range []string{pub(keys.System), pub(keys.Kanade), pub(keys.Agents)} {
		if err := a.signAccount(acc); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// OperatorJWT is the trusted operator of every server.
func (a *Authority) OperatorJWT() string { return a.operator }

// OperatorPublicKey, SystemAccount, KanadeAccount, AgentsAccount identify
// the trust chain.
func (a *Authority) OperatorPublicKey() string { return pub(a.keys.Operator) }
func (a *Authority) SystemAccount() string     { return pub(a.keys.System) }
func (a *Authority) KanadeAccount() string     { return pub(a.keys.Kanade) }
func (a *Authority) AgentsAccount() string     { return pub(a.keys.Agents) }

// AccountJWT returns the current JWT of account public key acc, or "" for
// an unknown account.
func (a *Authority) AccountJWT(acc string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.accountJWT[acc]
}

// AccountJWTs returns every account's current JWT by public key.
func (a *Authority) AccountJWTs() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.accountJWT)
}

// Revocations returns the revocation state to persist (see New).
func (a *Authority) Revocations() map[string]map[string]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]map[string]int64{}
	for acc, m := range a.revoked {
		out[acc] = maps.Clone(m)
	}
	return out
}

// signAccount (re)builds and signs the claims of one account. Caller holds
// a.mu or is New.
func (a *Authority) signAccount(acc string) error {
	c := jwt.NewAccountClaims(acc)
	k := a.keys
	switch acc {
	case pub(k.System):
		c.Name = AccountSystem
		// The system account's standard exports (as nsc creates them), so
		// $SYS.REQ.* account/server requests keep working.
		c.Exports = jwt.Exports{
			{Name: "account-monitoring-services", Subject: "$SYS.REQ.ACCOUNT.*.*", Type: jwt.Service, ResponseType: jwt.ResponseTypeStream, AccountTokenPosition: 4},
			{Name: "account-monitoring-streams", Subject: "$SYS.ACCOUNT.*.>", Type: jwt.Stream, AccountTokenPosition: 3},
		}
	case pub(k.Kanade):
		c.Name = AccountKanade
		c.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit,
			Streams: jwt.NoLimit, Consumer: jwt.NoLimit, MaxAckPending: jwt.NoLimit,
			MemoryMaxStreamBytes: jwt.NoLimit, DiskMaxStreamBytes: jwt.NoLimit}
		c.Exports = kanadeExports()
		c.Imports.Add(&jwt.Import{Name: "ping", Subject: pingExport().Subject, Account: pub(k.Agents), Type: jwt.Service})
		scope := jwt.NewUserScope()
		scope.Key = pub(k.CLISigner)
		scope.Role = "operator-cli"
		scope.Template.Permissions = CLIPermissions()
		c.SigningKeys.AddScopedSigner(scope)
	case pub(k.Agents):
		c.Name = AccountAgents
		// JetStream stays disabled (NewAccountClaims' zero limits): nothing
		// an agent does can create or change state on the broker.
		c.Limits.DisallowBearer = true
		c.Exports = jwt.Exports{pingExport()}
		c.Imports = agentsImports(pub(k.Kanade))
		scope := jwt.NewUserScope()
		scope.Key = pub(k.AgentSigner)
		scope.Role = "agent"
		scope.Template.Permissions = AgentPermissions()
		c.SigningKeys.AddScopedSigner(scope)
	default:
		return fmt.Errorf("unknown account %s", acc)
	}
	for user, t := range a.revoked[acc] {
		c.RevokeAt(user, time.Unix(t, 0))
	}
	var vr jwt.ValidationResults
	c.Validate(&vr)
	if errs := vr.Errors(); len(errs) > 0 {
		return fmt.Errorf("account %s claims: %v", c.Name, errs)
	}
	j, err := c.Encode(k.Operator)
	if err != nil {
		return fmt.Errorf("sign account %s: %w", c.Name, err)
	}
	a.accountJWT[acc] = j
	return nil
}

// User is an issued user identity.
type User struct {
	Name      string
	PublicKey string
	Account   string // account public key
	JWT       string
	// Seed is set when the Authority generated the key pair (backend,
	// system and CLI users); agents keep theirs (IssueAgent).
	Seed []byte
}

// Creds renders the user as a .creds file (needs the seed).
func (u User) Creds() ([]byte, error) {
	if len(u.Seed) == 0 {
		return nil, fmt.Errorf("user %s: no seed (the agent holds it)", u.Name)
	}
	return FormatCreds(u.JWT, u.Seed)
}

// IssueAgent signs the user JWT of pc pcID for the NKey public key the agent
// generated (NewUserKey); the private key never leaves the PC. Permissions
// come from the AGENTS scoped signing key, expanded on the pc_id (JWT name).
func (a *Authority) IssueAgent(pcID, userPublicKey string) (User, error) {
	if err := ValidPCID(pcID); err != nil {
		return User{}, err
	}
	if !nkeys.IsValidPublicUserKey(userPublicKey) {
		return User{}, fmt.Errorf("agent %s: %q is not an NKey user public key", pcID, userPublicKey)
	}
	uc := jwt.NewUserClaims(userPublicKey)
	uc.Name = pcID
	uc.IssuerAccount = a.AgentsAccount()
	uc.SetScoped(true)
	j, err := uc.Encode(a.keys.AgentSigner)
	if err != nil {
		return User{}, fmt.Errorf("sign agent %s user JWT: %w", pcID, err)
	}
	return User{Name: pcID, PublicKey: userPublicKey, Account: a.AgentsAccount(), JWT: j}, nil
}

// IssueBackend creates a backend user (KANADE, no limits). Each backend
// replica may get its own.
func (a *Authority) IssueBackend(name string) (User, error) {
	return a.issueWithNewKey(name, a.keys.Kanade, "", nil)
}

// IssueSystem creates a user of the system account: the backend uses it to
// push account updates (revocations) to an external cluster.
func (a *Authority) IssueSystem(name string) (User, error) {
	return a.issueWithNewKey(name, a.keys.System, "", nil)
}

// IssueCLI creates an operator CLI user (operator.creds), permissions fixed
// by the KANADE scoped key.
func (a *Authority) IssueCLI(name string) (User, error) {
	return a.issueWithNewKey(name, a.keys.CLISigner, a.KanadeAccount(), func(uc *jwt.UserClaims) { uc.SetScoped(true) })
}

func (a *Authority) issueWithNewKey(name string, signer nkeys.KeyPair, issuerAccount string, f func(*jwt.UserClaims)) (User, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", name, err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", name, err)
	}
	uc := jwt.NewUserClaims(pub(kp))
	uc.Name = name
	acc := pub(signer)
	if issuerAccount != "" {
		uc.IssuerAccount = issuerAccount
		acc = issuerAccount
	}
	if f != nil {
		f(uc)
	}
	j, err := uc.Encode(signer)
	if err != nil {
		return User{}, fmt.Errorf("sign user %s: %w", name, err)
	}
	return User{Name: name, PublicKey: uc.Subject, Account: acc, JWT: j, Seed: seed}, nil
}

// Revoke refuses every JWT of userPublicKey in account acc issued up to
// now, and returns the re-signed account JWT to push to the servers
// (PushAccount; an embedded server's resolver reads it from the Authority
// as well). The servers close that user's connections on receipt.
func (a *Authority) Revoke(acc, userPublicKey string) (string, error) {
	if !nkeys.IsValidPublicUserKey(userPublicKey) {
		return "", fmt.Errorf("revoke: %q is not an NKey user public key", userPublicKey)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.accountJWT[acc]; !ok {
		return "", fmt.Errorf("revoke %s: unknown account %s", userPublicKey, acc)
	}
	m := a.revoked[acc]
	if m == nil {
		m = map[string]int64{}
		a.revoked[acc] = m
	}
	m[userPublicKey] = time.Now().Unix()
	if err := a.signAccount(acc); err != nil {
		return "", err
	}
	return a.accountJWT[acc], nil
}
