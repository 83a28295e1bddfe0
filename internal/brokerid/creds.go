package brokerid

import (
	"fmt"
	"os"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// NewUserKey creates the NKey pair of a user. The agent calls it at
// enrollment, sends the public key and keeps the seed for broker.creds.
func NewUserKey() (seed []byte, publicKey string, err error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, "", fmt.Errorf("create NKey: %w", err)
	}
	if seed, err = kp.Seed(); err != nil {
		return nil, "", fmt.Errorf("create NKey: %w", err)
	}
	return seed, pub(kp), nil
}

// FormatCreds renders a NATS credentials file (user JWT + NKey seed), the
// format of nats --creds and nats.UserCredentials. It refuses a seed that
// does not belong to the JWT's subject.
func FormatCreds(userJWT string, seed []byte) ([]byte, error) {
	b, err := jwt.FormatUserConfig(userJWT, seed)
	if err != nil {
		return nil, fmt.Errorf("format credentials: %w", err)
	}
	return b, nil
}

// WriteCreds writes a credentials file with mode 0600.
func WriteCreds(path, userJWT string, seed []byte) error {
	b, err := FormatCreds(userJWT, seed)
	if err != nil {
		return err
	}
	return WriteSecret(path, b)
}

// ReadCreds parses a credentials file and checks that its seed matches its
// JWT, returning the user claims (name = pc_id for an agent).
func ReadCreds(path string) (*jwt.UserClaims, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", path, err)
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", path, err)
	}
	kp, err := jwt.ParseDecoratedUserNKey(b)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", path, err)
	}
	if p, err := kp.PublicKey(); err != nil || p != uc.Subject {
		return nil, fmt.Errorf("credentials %s: the seed does not belong to the JWT", path)
	}
	return uc, nil
}
