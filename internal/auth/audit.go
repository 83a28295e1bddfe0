package auth

import (
	"context"
	"encoding/json"
	"strings"
)

// Auditor records a state change or a login attempt. The backend's
// implementation publishes a wire.AuditEvent on audit.<actor>.<action>.
// Payloads passed by this package never hold passwords; implementations
// should still pass any payload through Redact.
type Auditor interface {
	Audit(ctx context.Context, actor, action, target string, payload any, sourceIP string)
}

// AuditorFunc adapts a function to Auditor.
type AuditorFunc func(ctx context.Context, actor, action, target string, payload any, sourceIP string)

// Audit calls f.
func (f AuditorFunc) Audit(ctx context.Context, actor, action, target string, payload any, sourceIP string) {
	f(ctx, actor, action, target, payload, sourceIP)
}

// Audit actions emitted by this package.
const (
	ActionLogin          = "auth.login"
	ActionLoginFailed    = "auth.login_failed"
	ActionChangePassword = "account.change_password"
	ActionAccountCreate  = "account.create"
	ActionAccountUpdate  = "account.update"
	ActionAccountDelete  = "account.delete"
)

// Redacted replaces secret values in audit payloads.
const Redacted = "[redacted]"

// IsSecretKey reports whether a field name looks like it holds a secret.
func IsSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"password", "passwd", "secret", "token", "credential", "private_key", "authorization"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// Redact returns payload as a JSON-shaped value (maps, slices, scalars)
// with the value of every field named like a secret (IsSecretKey) replaced
// by "[redacted]", at any depth. A payload that does not marshal becomes
// nil.
func Redact(payload any) any {
	if payload == nil {
		return nil
	}
	var v any
	switch p := payload.(type) {
	case json.RawMessage:
		if json.Unmarshal(p, &v) != nil {
			return nil
		}
	case []byte:
		if json.Unmarshal(p, &v) != nil {
			return nil
		}
	default:
		b, err := json.Marshal(payload)
		if err != nil {
			return nil
		}
		if json.Unmarshal(b, &v) != nil {
			return nil
		}
	}
	return redactValue(v)
}

func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if IsSecretKey(k) {
				x[k] = Redacted
			} else {
				x[k] = redactValue(e)
			}
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = redactValue(e)
		}
		return x
	}
	return v
}

func (a *Authenticator) audit(ctx context.Context, actor, action, target string, payload any, ip string) {
	if a.auditor == nil {
		return
	}
	a.auditor.Audit(ctx, actor, action, target, Redact(payload), ip)
}
