// Package sign signs and verifies kanade commands and kills (SPEC §12).
//
// # Message signatures
//
// The backend (or an operator's CLI with --signing-key) holds an Ed25519
// key, stored as signing.key in PKCS#8 PEM. Every Command and kill carries
// two NATS headers:
//
//	Kanade-Key-Id:    first 16 hex digits of SHA-256(raw 32-byte public key)
//	Kanade-Signature: standard base64 of Ed25519(subject + "\n" + payload)
//
// The signed subject is the subject the message is published on, so a
// genuine command re-routed to another subject (the reply-subject trick of
// issue 13) no longer verifies. Verify distinguishes an unsigned message
// (ErrUnsigned), a key the keyring does not hold (ErrUnknownKey) and a
// signature that does not match (ErrBadSignature).
//
// # Key rotation: the signing_keys chain
//
// Public keys rotate through KV bucket signing_keys, key "chain" (ChainKey).
// Its value is a JSON Chain: records in ascending seq, each introducing one
// public key, optionally retiring earlier ones:
//
//	{"records": [
//	  {"seq": 1, "key_id": "…", "public_key": "<base64 raw 32 bytes>",
//	   "created_at": "2026-01-02T03:04:05Z", "signed_by": "<own key id>", "signature": "…"},
//	  {"seq": 2, "key_id": "…", "public_key": "…", "retire": ["<key id>"],
//	   "created_at": "…", "signed_by": "<key id of record 1>", "signature": "…"}
//	]}
//
// Record 1 is signed by its own key (proof of possession); every later
// record is signed by the key of the record just before it, over the text
// returned by RecordSigningBytes ("kanade-signing-key-v1\n" + seq + key id
// + public key + retired ids + created_at, one per line). That prefix can
// never be a command subject, so a record signature cannot pass for a
// command signature or the reverse. A record may repeat the previous key
// to retire others without introducing a new one; it may not retire its
// own key.
//
// Only public keys are stored. An agent anchors the chain on keys it
// already trusts (enrollment.json, or trust on first use when it was not
// enrolled), applies the records after its anchor, and from then on
// remembers the seq and signature of the last record applied: a value that
// rewrites that record, or ends before it, is refused, so neither a rolled
// back value nor a fork signed by a retired key is ever accepted. The
// chain may be pruned from the front; an agent whose anchor was pruned
// must be re-enrolled.
package sign

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kanade-fleet/kanade/internal/atomicfile"
)

// Header names of a signed message.
const (
	HeaderKeyID     = "Kanade-Key-Id"
	HeaderSignature = "Kanade-Signature"
)

// Verification errors; Verify wraps them with detail.
var (
	ErrUnsigned     = errors.New("message is not signed")
	ErrUnknownKey   = errors.New("message is signed by an unknown key")
	ErrBadSignature = errors.New("signature does not match subject and payload")
)

// KeyID is the id of a public key: the first 16 hex digits of the SHA-256
// of its raw 32 bytes.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// EncodePublicKey renders a public key as standard base64 of its raw bytes
// (enrollment.json, the signing_keys chain).
func EncodePublicKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// ParsePublicKey reads what EncodePublicKey wrote.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key: %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// Signer holds a private signing key.
type Signer struct {
	priv ed25519.PrivateKey
	id   string
}

// NewSigner wraps an existing private key.
func NewSigner(priv ed25519.PrivateKey) (*Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("signing key: %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	return &Signer{priv: priv, id: KeyID(priv.Public().(ed25519.PublicKey))}, nil
}

// GenerateKey creates a new signing key.
func GenerateKey() (*Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return NewSigner(priv)
}

// KeyID is the id of the signer's public key.
func (s *Signer) KeyID() string { return s.id }

// Public is the signer's public key.
func (s *Signer) Public() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// signingBytes is what a message signature covers.
func signingBytes(subject string, payload []byte) []byte {
	b := make([]byte, 0, len(subject)+1+len(payload))
	b = append(b, subject...)
	b = append(b, '\n')
	return append(b, payload...)
}

// Sign returns the headers that make payload, published on subject,
// verifiable. The map converts to nats.Header as is.
func (s *Signer) Sign(subject string, payload []byte) map[string][]string {
	h := map[string][]string{}
	s.SignInto(h, subject, payload)
	return h
}

// SignInto sets the signature headers in h (e.g. a nats.Msg's Header),
// replacing any there.
func (s *Signer) SignInto(h map[string][]string, subject string, payload []byte) {
	sig := ed25519.Sign(s.priv, signingBytes(subject, payload))
	h[HeaderKeyID] = []string{s.id}
	h[HeaderSignature] = []string{base64.StdEncoding.EncodeToString(sig)}
}

// MarshalPEM encodes the private key as PKCS#8 PEM.
func (s *Signer) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(s.priv)
	if err != nil {
		return nil, fmt.Errorf("encode signing key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePEM reads a PKCS#8 PEM Ed25519 private key.
func ParsePEM(b []byte) (*Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("signing key: no PEM block")
	}
	if blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key: PEM block %q, want PRIVATE KEY (PKCS#8)", blk.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key: %T, want an Ed25519 key", k)
	}
	return NewSigner(priv)
}

// Save writes the key to path as PKCS#8 PEM with mode 0600, atomically.
func (s *Signer) Save(path string) error {
	b, err := s.MarshalPEM()
	if err != nil {
		return err
	}
	return WriteFile0600(path, b)
}

// LoadKey reads a key written by Save (or openssl genpkey -algorithm ed25519).
func LoadKey(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	s, err := ParsePEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// LoadOrCreateKey loads path, or creates and saves a new key when it does
// not exist (the backend's first start); created says which.
func LoadOrCreateKey(path string) (s *Signer, created bool, err error) {
	s, err = LoadKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return s, false, err
	}
	if s, err = GenerateKey(); err != nil {
		return nil, false, err
	}
	return s, true, s.Save(path)
}

// WriteFile0600 writes b to path with mode 0600 through a temporary file
// and a rename, so a crash never leaves half a file behind.
func WriteFile0600(path string, b []byte) error {
	return atomicfile.WriteFile(path, b, 0o600)
}

// header returns the single value of key, or "" when absent or repeated
// (a repeated signature header is ambiguous and refused as unsigned).
func header(h map[string][]string, key string) (string, bool) {
	v := h[key]
	switch len(v) {
	case 0:
		return "", false
	case 1:
		return v[0], true
	}
	return "", false
}

// Verify checks that payload, received on subject with headers h, was
// signed for that subject by a key in kr. A nil kr holds no keys.
func Verify(kr *Keyring, subject string, h map[string][]string, payload []byte) error {
	id, okID := header(h, HeaderKeyID)
	sig64, okSig := header(h, HeaderSignature)
	if !okID || !okSig || id == "" || sig64 == "" {
		return ErrUnsigned
	}
	if strings.ContainsAny(subject, " \t\r\n") || subject == "" {
		// Not a NATS subject; a newline would also move the boundary
		// between subject and payload in what was signed.
		return fmt.Errorf("%w: %q is not a subject", ErrBadSignature, truncate(subject))
	}
	pub, ok := kr.Key(id)
	if !ok {
		return fmt.Errorf("%w: key id %q", ErrUnknownKey, truncate(id))
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(sig64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: malformed signature (key %s)", ErrBadSignature, id)
	}
	if !ed25519.Verify(pub, signingBytes(subject, payload), sig) {
		return fmt.Errorf("%w: key %s, subject %s", ErrBadSignature, id, subject)
	}
	return nil
}

// truncate bounds attacker-chosen text before it reaches a log or stderr.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
