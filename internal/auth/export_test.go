package auth

import "time"

// Internals lent to the external tests (package auth_test).

func init() {
	// Cheap argon2 for tests; the format and verification path are the same.
	hashParams = argonParams{memory: 64, time: 1, threads: 1, keyLen: 32, saltLen: 16}
}

// WriteJSON is writeJSON.
var WriteJSON = writeJSON

// ForgeToken signs a token for the account id subject with another secret.
func ForgeToken(secret []byte, now func() time.Time, subject string) string {
	tok, _, _ := tokenCodec{secret: secret, ttl: time.Hour, now: now}.issue(subject, subject, 0)
	return tok
}

// IssueTestToken issues a token naming the account id subject with a's own
// codec, token version 0.
func IssueTestToken(a *Authenticator, subject string) string {
	tok, _, _ := a.tokens.issue(subject, subject, 0)
	return tok
}

// IssueTestTokenVersion is IssueTestToken with a token version.
func IssueTestTokenVersion(a *Authenticator, subject string, tv int64) string {
	tok, _, _ := a.tokens.issue(subject, subject, tv)
	return tok
}
