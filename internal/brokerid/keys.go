// Package brokerid issues the broker identities of a kanade install with
// nats-server's decentralised JWT auth: one operator, three accounts (SYS,
// KANADE for the backend and its streams, AGENTS for the PCs, which holds no
// JetStream state) and user JWTs per agent, per backend process and per
// operator CLI. It also writes credentials files, revokes users and renders
// the external nats-server configuration; docs/identity-design.md explains
// the design and what the tests prove.
//
// The package links no server code: the agent uses it to create its NKey
// and store broker.creds. The embedded server's options are in
// internal/broker/identity.
package brokerid

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nkeys"

	"github.com/kanade-fleet/kanade/internal/atomicfile"
)

// Keys are the private keys of the trust chain. Whoever holds them can mint
// any broker identity: the backend keeps them in its data dir (0600) and
// nothing else ever sees them.
type Keys struct {
	Operator nkeys.KeyPair // signs the account JWTs
	System   nkeys.KeyPair // SYS account identity (signs system users)
	Kanade   nkeys.KeyPair // KANADE account identity (signs backend users)
	Agents   nkeys.KeyPair // AGENTS account identity (signs nothing but its own JWT's exports)
	// AgentSigner is the AGENTS account's scoped signing key: the account
	// JWT fixes the permissions of every user it signs (a template on the
	// user's name = pc_id), so an agent user JWT carries no permissions and
	// a bug in issuing cannot widen them.
	AgentSigner nkeys.KeyPair
	// CLISigner is the KANADE account's scoped signing key for operator CLI
	// users (operator.creds), likewise fixed in the account JWT.
	CLISigner nkeys.KeyPair
}

// NewKeys creates a fresh trust chain.
func NewKeys() (*Keys, error) {
	var k Keys
	var err error
	mk := func(f func() (nkeys.KeyPair, error)) nkeys.KeyPair {
		if err != nil {
			return nil
		}
		var kp nkeys.KeyPair
		kp, err = f()
		return kp
	}
	k.Operator = mk(nkeys.CreateOperator)
	k.System = mk(nkeys.CreateAccount)
	k.Kanade = mk(nkeys.CreateAccount)
	k.Agents = mk(nkeys.CreateAccount)
	k.AgentSigner = mk(nkeys.CreateAccount)
	k.CLISigner = mk(nkeys.CreateAccount)
	if err != nil {
		return nil, fmt.Errorf("create broker keys: %w", err)
	}
	return &k, nil
}

type keysFile struct {
	Operator    string `json:"operator"`
	System      string `json:"system"`
	Kanade      string `json:"kanade"`
	Agents      string `json:"agents"`
	AgentSigner string `json:"agent_signer"`
	CLISigner   string `json:"cli_signer"`
}

func (k *Keys) pairs() []*nkeys.KeyPair {
	return []*nkeys.KeyPair{&k.Operator, &k.System, &k.Kanade, &k.Agents, &k.AgentSigner, &k.CLISigner}
}

// Save writes the seeds to path with mode 0600, atomically.
func (k *Keys) Save(path string) error {
	var seeds []string
	for _, p := range k.pairs() {
		s, err := (*p).Seed()
		if err != nil {
			return fmt.Errorf("save broker keys: %w", err)
		}
		seeds = append(seeds, string(s))
	}
	b, err := json.MarshalIndent(keysFile{seeds[0], seeds[1], seeds[2], seeds[3], seeds[4], seeds[5]}, "", "  ")
	if err != nil {
		return err
	}
	return WriteSecret(path, append(b, '\n'))
}

// LoadKeys reads what Save wrote, checking each seed's type.
func LoadKeys(path string) (*Keys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("broker keys: %w", err)
	}
	var f keysFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("broker keys %s: %w", path, err)
	}
	var k Keys
	want := []struct {
		name   string
		seed   string
		prefix nkeys.PrefixByte
	}{
		{"operator", f.Operator, nkeys.PrefixByteOperator},
		{"system", f.System, nkeys.PrefixByteAccount},
		{"kanade", f.Kanade, nkeys.PrefixByteAccount},
		{"agents", f.Agents, nkeys.PrefixByteAccount},
		{"agent_signer", f.AgentSigner, nkeys.PrefixByteAccount},
		{"cli_signer", f.CLISigner, nkeys.PrefixByteAccount},
	}
	for i, p := range k.pairs() {
		w := want[i]
		pre, _, err := nkeys.DecodeSeed([]byte(w.seed))
		if err != nil {
			return nil, fmt.Errorf("broker keys %s: %s: %w", path, w.name, err)
		}
		if pre != w.prefix {
			return nil, fmt.Errorf("broker keys %s: %s is a %s seed, want %s", path, w.name, pre, w.prefix)
		}
		if *p, err = nkeys.FromSeed([]byte(w.seed)); err != nil {
			return nil, fmt.Errorf("broker keys %s: %s: %w", path, w.name, err)
		}
	}
	return &k, nil
}

// LoadOrCreateKeys loads path, or creates and saves a new trust chain when
// it does not exist yet (first start of the backend).
func LoadOrCreateKeys(path string) (*Keys, bool, error) {
	k, err := LoadKeys(path)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if k, err = NewKeys(); err != nil {
		return nil, false, err
	}
	return k, true, k.Save(path)
}

// WriteSecret writes b to path with mode 0600 through a temporary file and a
// rename, so a crash never leaves half a credential behind.
func WriteSecret(path string, b []byte) error {
	return atomicfile.WriteFile(path, b, 0o600)
}

func pub(kp nkeys.KeyPair) string {
	p, err := kp.PublicKey()
	if err != nil {
		// Only a wiped key pair fails here; the keys are never wiped.
		panic(fmt.Sprintf("brokerid: public key: %v", err))
	}
	return p
}
