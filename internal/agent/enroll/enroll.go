// Package enroll joins a PC to a kanade install (SPEC §12): kanade-agent
// enroll creates the PC's NKey (the seed never leaves the PC), sends the
// public key with a one-use enrollment token to the backend's public route
// POST /api/enroll, and stores what comes back in the agent's data dir:
// broker.creds (user JWT + seed, NATS credentials format, 0600) and
// enrollment.json (pc_id, broker URLs, command-signing public keys, 0600).
// The agent then runs from those files with no flags.
//
// The wire format (the backend implements it):
//
//	POST /api/enroll
//	{"token": "…", "pc_id": "pc-01", "hostname": "pc-01.example", "os_family": "linux",
//	 "public_key": "U…"}                        // NKey user public key
//
//	200 {"pc_id": "pc-01",
//	     "user_jwt": "eyJ…",                    // signed for public_key, name = pc_id
//	     "broker_urls": ["nats://broker:4222"],
//	     "signing_keys": [{"key_id": "0123456789abcdef", "public_key": "<base64 raw 32 bytes>"}]}
//
// Refusals are {"error": "…", "field": "…"} with status 400 (a field is
// invalid), 401 (token unknown), 410 (token expired or used up), 409
// (pc_id already enrolled: an operator must allow re-enrollment with
// POST /api/agents/{pc}/reenroll).
package enroll

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/kanade-fleet/kanade/internal/brokerid"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Files in the agent's data dir.
const (
	CredsFile      = "broker.creds"
	EnrollmentFile = "enrollment.json"
	// KeyringFile is the agent's current trusted signing keys (enrollment
	// keys advanced by rotations); enrolling again resets it.
	KeyringFile = "signing-keys.json"
)

// Route is the backend's enrollment route.
const Route = "/api/enroll"

// Request is the body of POST /api/enroll.
type Request struct {
	Token     string `json:"token"`
	PCID      string `json:"pc_id"`
	Hostname  string `json:"hostname"`
	OSFamily  string `json:"os_family"`
	PublicKey string `json:"public_key"`
}

// SigningKey is one command-signing public key.
type SigningKey struct {
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"`
}

// Response is the body of a successful POST /api/enroll.
type Response struct {
	PCID        string       `json:"pc_id"`
	UserJWT     string       `json:"user_jwt"`
	BrokerURLs  []string     `json:"broker_urls"`
	SigningKeys []SigningKey `json:"signing_keys"`
	EnrolledAt  time.Time    `json:"enrolled_at"` // backend's clock; zero from an older backend
}

// Enrollment is enrollment.json.
type Enrollment struct {
	PCID        string       `json:"pc_id"`
	Server      string       `json:"server"`
	BrokerURLs  []string     `json:"broker_urls"`
	SigningKeys []SigningKey `json:"signing_keys"`
	PublicKey   string       `json:"public_key"` // the PC's NKey
	EnrolledAt  time.Time    `json:"enrolled_at"`
}

// Failures, for errors.Is; the error text says what to do.
var (
	ErrEnrolled        = errors.New("this data dir is already enrolled")
	ErrBadToken        = errors.New("enrollment token not accepted")
	ErrTokenSpent      = errors.New("enrollment token expired or used up")
	ErrAlreadyEnrolled = errors.New("pc_id already enrolled on the server")
	ErrInvalid         = errors.New("enrollment request refused")
	ErrUnreachable     = errors.New("backend unreachable")
	ErrServer          = errors.New("backend error")
	ErrBadResponse     = errors.New("backend sent an unusable answer")
)

// Options of Enroll.
type Options struct {
	Server   string // backend base URL, http(s)://host:port
	Token    string
	PCID     string
	Hostname string
	OSFamily string
	DataDir  string
	Force    bool         // replace an existing local enrollment
	Client   *http.Client // default: 30 s timeout
	Now      func() time.Time
}

// Enroll performs the enrollment and writes the files. Nothing is written
// unless the backend accepted it and its answer checked out.
func Enroll(ctx context.Context, o Options) (*Enrollment, error) {
	if err := brokerid.ValidPCID(o.PCID); err != nil || !wire.ValidPCID(o.PCID) {
		return nil, fmt.Errorf("enroll: pc_id %q is not valid (letters, digits, '_' and '-'); set --id", o.PCID)
	}
	if strings.TrimSpace(o.Token) == "" {
		return nil, errors.New("enroll: --token is required")
	}
	base, err := url.Parse(strings.TrimRight(strings.TrimSpace(o.Server), "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("enroll: --server %q: want http(s)://host[:port] of the kanade backend", o.Server)
	}
	if o.DataDir == "" {
		return nil, errors.New("enroll: data dir is required")
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	if prev, err := Load(o.DataDir); err == nil && !o.Force {
		return nil, fmt.Errorf("enroll: %w as pc_id %s (%s); use --force to enroll again (the server must allow it: POST /api/agents/%s/reenroll)",
			ErrEnrolled, prev.PCID, filepath.Join(o.DataDir, EnrollmentFile), prev.PCID)
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	seed, pub, err := brokerid.NewUserKey()
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	endpoint := base.JoinPath(Route).String()
	resp, err := post(ctx, o.Client, endpoint, Request{Token: o.Token, PCID: o.PCID, Hostname: o.Hostname, OSFamily: o.OSFamily, PublicKey: pub})
	if err != nil {
		return nil, err
	}
	if err := check(resp, o.PCID, pub); err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	e := &Enrollment{PCID: o.PCID, Server: base.String(), BrokerURLs: resp.BrokerURLs, SigningKeys: resp.SigningKeys,
		PublicKey: pub, EnrolledAt: o.Now().UTC()}
	if !resp.EnrolledAt.IsZero() {
		e.EnrolledAt = resp.EnrolledAt.UTC() // the broker's timestamps use the backend's clock
	}
	// Credential first, enrollment.json last: it is what marks the dir
	// enrolled. The old keyring goes: the new enrollment's keys replace it.
	if err := brokerid.WriteCreds(filepath.Join(o.DataDir, CredsFile), resp.UserJWT, seed); err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	if err := os.Remove(filepath.Join(o.DataDir, KeyringFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := sign.WriteFile0600(filepath.Join(o.DataDir, EnrollmentFile), append(b, '\n')); err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	return e, nil
}

func post(ctx context.Context, c *http.Client, endpoint string, body Request) (*Response, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w: cannot reach %s: %v", ErrUnreachable, endpoint, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("enroll: %w: reading the answer of %s: %v", ErrUnreachable, endpoint, err)
	}
	if res.StatusCode == http.StatusOK || res.StatusCode == http.StatusCreated {
		var r Response
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("enroll: %w: %v", ErrBadResponse, err)
		}
		return &r, nil
	}
	var e struct {
		Error string `json:"error"`
		Field string `json:"field"`
	}
	_ = json.Unmarshal(data, &e)
	msg := strings.TrimSpace(e.Error)
	if msg == "" {
		msg = strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
	}
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	status := fmt.Sprintf("HTTP %d", res.StatusCode)
	switch res.StatusCode {
	case http.StatusUnauthorized:
		return nil, fmt.Errorf("enroll: %w: %s (%s); check --token, or ask an operator for a new one (kanade enroll-token create)", ErrBadToken, msg, status)
	case http.StatusGone:
		return nil, fmt.Errorf("enroll: %w: %s (%s); ask an operator for a new token (kanade enroll-token create)", ErrTokenSpent, msg, status)
	case http.StatusConflict:
		return nil, fmt.Errorf("enroll: %w: %s (%s); an operator must allow re-enrollment first (POST /api/agents/%s/reenroll), then use --force",
			ErrAlreadyEnrolled, msg, status, body.PCID)
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return nil, fmt.Errorf("enroll: %w: %s (%s)", ErrInvalid, msg, status)
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return nil, fmt.Errorf("enroll: %w: %s answers %s: is --server the kanade backend (with enrollment)?", ErrServer, endpoint, status)
	}
	return nil, fmt.Errorf("enroll: %w: %s: %s", ErrServer, status, msg)
}

// check refuses an answer the agent could not run with.
func check(r *Response, pcID, pub string) error {
	if r.PCID != pcID {
		return fmt.Errorf("%w: pc_id %q, asked for %q", ErrBadResponse, r.PCID, pcID)
	}
	uc, err := jwt.DecodeUserClaims(r.UserJWT)
	if err != nil {
		return fmt.Errorf("%w: user_jwt: %v", ErrBadResponse, err)
	}
	if uc.Subject != pub || uc.Name != pcID {
		return fmt.Errorf("%w: user_jwt is for %q (%s), not this PC's key", ErrBadResponse, uc.Name, uc.Subject)
	}
	if len(r.BrokerURLs) == 0 {
		return fmt.Errorf("%w: no broker_urls", ErrBadResponse)
	}
	for _, u := range r.BrokerURLs {
		p, err := url.Parse(u)
		if err != nil || p.Host == "" || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, p.Scheme) {
			return fmt.Errorf("%w: broker url %q", ErrBadResponse, u)
		}
	}
	if len(r.SigningKeys) == 0 {
		return fmt.Errorf("%w: no signing_keys (the agent could not verify any command)", ErrBadResponse)
	}
	if _, err := keyring(r.SigningKeys); err != nil {
		return fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	return nil
}

func keyring(keys []SigningKey) (*sign.Keyring, error) {
	var pubs []ed25519.PublicKey
	for _, k := range keys {
		p, err := sign.ParsePublicKey(k.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("signing key %q: %w", k.KeyID, err)
		}
		if sign.KeyID(p) != k.KeyID {
			return nil, fmt.Errorf("signing key %q: key_id is not the id of its key (%s)", k.KeyID, sign.KeyID(p))
		}
		pubs = append(pubs, p)
	}
	return sign.NewKeyring(pubs...), nil
}

// Load reads enrollment.json from dataDir; an error wrapping os.ErrNotExist
// means the PC is not enrolled.
func Load(dataDir string) (*Enrollment, error) {
	path := filepath.Join(dataDir, EnrollmentFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("enrollment: %w", err)
	}
	var e Enrollment
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("enrollment %s: %w", path, err)
	}
	if !wire.ValidPCID(e.PCID) || len(e.BrokerURLs) == 0 {
		return nil, fmt.Errorf("enrollment %s: pc_id or broker_urls missing; enroll again with --force", path)
	}
	if _, err := os.Stat(filepath.Join(dataDir, CredsFile)); err != nil {
		return nil, fmt.Errorf("enrollment %s: %s missing (%v); enroll again with --force", path, CredsFile, err)
	}
	return &e, nil
}

// Keyring is the enrollment's command-signing keys.
func (e *Enrollment) Keyring() (*sign.Keyring, error) { return keyring(e.SigningKeys) }

// CredsPath is the broker.creds of dataDir.
func CredsPath(dataDir string) string { return filepath.Join(dataDir, CredsFile) }
