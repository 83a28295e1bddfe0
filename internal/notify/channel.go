// Package notify delivers alert transitions (SPEC §15) to notification
// channels: a dispatcher on the leader replica turns new transitions into
// collapsed notifications queued in stream NOTIFY, and a sender on every
// replica (one shared durable consumer: each message goes to one of them)
// delivers them to webhooks, Slack and e-mail with retries for 24 h,
// publishing every attempt to stream NOTIFY_LOG, which the projector turns
// into the notification_deliveries table.
package notify

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/wire"
)

// Channel types.
const (
	TypeWebhook = "webhook"
	TypeSlack   = "slack"
	TypeEmail   = "email"
)

// Types are the channel types, in the order the docs list them.
var Types = []string{TypeWebhook, TypeSlack, TypeEmail}

// Severities, lowest first.
var Severities = []string{"info", "warning", "critical"}

// SeverityRank orders severities (unknown = -1).
func SeverityRank(s string) int { return slices.Index(Severities, s) }

// Channel is one notification channel as kept in KV
// notification_channels. It is its own rule (SPEC §15): every alert
// transition at or above MinSeverity for a PC in Groups (empty = all PCs).
// Secret, SMTP.Password and a Slack URL are secrets: the API never returns
// them and nothing logs them.
type Channel struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	URL         string    `json:"url,omitempty"`
	SMTP        *SMTP     `json:"smtp,omitempty"`
	To          []string  `json:"to,omitempty"`
	Secret      string    `json:"secret,omitempty"`
	MinSeverity string    `json:"min_severity"`
	Groups      []string  `json:"groups"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// SMTP is an e-mail channel's server.
type SMTP struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	From     string `json:"from"`
	// StartTLS requires STARTTLS (the default and the only sane choice
	// across a network); false sends in clear text (a local relay only).
	StartTLS bool `json:"starttls"`
	// InsecureSkipVerify accepts any server certificate (tests, or a relay
	// with a self-signed certificate): the connection is still encrypted.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidID reports whether id may name a channel (also a subject token).
func ValidID(id string) bool { return idRE.MatchString(id) }

func fieldErr(field, format string, args ...any) error {
	return &wire.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks a channel and normalises it (trims, sorts groups,
// defaults min_severity to warning and the SMTP port to 587). The error
// is a *wire.FieldError naming the field (the API's 422); it never quotes
// a secret.
func (c *Channel) Validate() error {
	c.Name = strings.TrimSpace(c.Name)
	if !ValidID(c.ID) {
		return fieldErr("id", "must be 1-64 of a-z 0-9 _ - starting with a letter or digit")
	}
	if c.Name == "" || len(c.Name) > 200 {
		return fieldErr("name", "is required (at most 200 characters)")
	}
	if c.MinSeverity == "" {
		c.MinSeverity = "warning"
	}
	if SeverityRank(c.MinSeverity) < 0 {
		return fieldErr("min_severity", "must be one of %s", strings.Join(Severities, ", "))
	}
	if c.Groups == nil {
		c.Groups = []string{}
	}
	for _, g := range c.Groups {
		if g == "" || len(g) > 128 || strings.ContainsAny(g, " .*>\t\r\n") {
			return fieldErr("groups", "%.40q is not a group name", g)
		}
	}
	slices.Sort(c.Groups)
	c.Groups = slices.Compact(c.Groups)
	if len(c.Secret) > 1024 {
		return fieldErr("secret", "is longer than 1024 bytes")
	}
	switch c.Type {
	case TypeWebhook, TypeSlack:
		if c.SMTP != nil || len(c.To) > 0 {
			return fieldErr("smtp", "only an email channel has smtp and to")
		}
		u, err := url.Parse(c.URL)
		if c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(c.URL) > 2048 {
			// The URL is not quoted: a Slack URL is itself a secret.
			return fieldErr("url", "must be an http:// or https:// URL")
		}
		if c.Type == TypeWebhook && c.Secret == "" {
			return fieldErr("secret", "is required for a webhook (the HMAC key of X-Kanade-Signature)")
		}
	case TypeEmail:
		if c.URL != "" {
			return fieldErr("url", "an email channel has smtp settings, not a url")
		}
		if c.SMTP == nil {
			return fieldErr("smtp", "is required for an email channel")
		}
		s := c.SMTP
		s.Host = strings.TrimSpace(s.Host)
		if s.Host == "" || strings.ContainsAny(s.Host, " /\t\r\n") {
			return fieldErr("smtp.host", "is required (a host name or address)")
		}
		if s.Port == 0 {
			s.Port = 587
		}
		if s.Port < 1 || s.Port > 65535 {
			return fieldErr("smtp.port", "must be 1-65535")
		}
		if _, err := mail.ParseAddress(s.From); err != nil {
			return fieldErr("smtp.from", "must be an e-mail address")
		}
		if s.Password != "" && s.Username == "" {
			return fieldErr("smtp.username", "is required with a password")
		}
		if len(c.To) == 0 || len(c.To) > 100 {
			return fieldErr("to", "needs 1-100 e-mail addresses")
		}
		for _, a := range c.To {
			if _, err := mail.ParseAddress(a); err != nil {
				return fieldErr("to", "%.80q is not an e-mail address", a)
			}
		}
	default:
		return fieldErr("type", "must be one of %s", strings.Join(Types, ", "))
	}
	return nil
}

// Matches reports whether a transition of severity for a PC in groups
// goes to the channel.
func (c *Channel) Matches(severity string, pcGroups []string) bool {
	if SeverityRank(severity) < SeverityRank(c.MinSeverity) {
		return false
	}
	if len(c.Groups) == 0 {
		return true
	}
	for _, g := range pcGroups {
		if _, ok := slices.BinarySearch(c.Groups, g); ok {
			return true
		}
	}
	return false
}

// KeepSecrets fills the secrets an update left empty from the stored
// channel, so a GET → edit → PUT round trip (which cannot see them) keeps
// them. A Slack URL is kept the same way.
func (c *Channel) KeepSecrets(old Channel) {
	if c.Secret == "" {
		c.Secret = old.Secret
	}
	if c.Type == TypeSlack && c.URL == "" && old.Type == TypeSlack {
		c.URL = old.URL
	}
	if c.SMTP != nil && old.SMTP != nil && c.SMTP.Password == "" {
		c.SMTP.Password = old.SMTP.Password
	}
}

// LogValue keeps secrets out of any log line that names a channel.
func (c Channel) String() string { return c.Type + " channel " + c.ID }
