package apiv1

import "time"

// NotificationChannel is a channel as the API shows it (SPEC §15): its
// secrets (webhook secret, SMTP password, a Slack URL) are never returned,
// only whether they are set.
type NotificationChannel struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Type        string    `json:"type"` // webhook | slack | email
	URL         string    `json:"url,omitempty"`
	URLSet      bool      `json:"url_set"`
	SMTP        *SMTPView `json:"smtp,omitempty"`
	To          []string  `json:"to"`
	SecretSet   bool      `json:"secret_set"`
	MinSeverity string    `json:"min_severity"`
	Groups      []string  `json:"groups"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// SMTPView is an e-mail channel's server without its password.
type SMTPView struct {
	Host               string `json:"host"`
	Port               int    `json:"port"`
	Username           string `json:"username"`
	PasswordSet        bool   `json:"password_set"`
	From               string `json:"from"`
	StartTLS           bool   `json:"starttls"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify"`
}

// NotificationChannelInput is the body of POST and PUT
// /api/notification-channels. On PUT an empty secret, SMTP password or
// Slack URL keeps the stored one. id is optional on POST (generated).
type NotificationChannelInput struct {
	ID          string     `json:"id,omitempty"`
	Name        string     `json:"name"`
	Type        string     `json:"type"`
	URL         string     `json:"url,omitempty"`
	SMTP        *SMTPInput `json:"smtp,omitempty"`
	To          []string   `json:"to,omitempty"`
	Secret      string     `json:"secret,omitempty"`
	MinSeverity string     `json:"min_severity,omitempty"`
	Groups      []string   `json:"groups,omitempty"`
}

// SMTPInput is an e-mail channel's server. starttls defaults to true.
type SMTPInput struct {
	Host               string `json:"host"`
	Port               int    `json:"port,omitempty"`
	Username           string `json:"username,omitempty"`
	Password           string `json:"password,omitempty"`
	From               string `json:"from"`
	StartTLS           *bool  `json:"starttls,omitempty"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify,omitempty"`
}

// TestNotificationResponse is POST /api/notification-channels/{id}/test:
// the delivery id to look for in GET /api/notifications.
type TestNotificationResponse struct {
	DeliveryID string `json:"delivery_id"`
}

// NotificationDelivery is one delivery attempt (GET /api/notifications).
type NotificationDelivery struct {
	ID          int64     `json:"id"`
	DeliveryID  string    `json:"delivery_id"`
	ChannelID   string    `json:"channel_id"`
	ChannelName string    `json:"channel_name"`
	ChannelType string    `json:"channel_type"`
	Event       string    `json:"event"`
	CheckID     string    `json:"check_id"`
	Severity    string    `json:"severity"`
	Count       int       `json:"count"`
	Attempt     int       `json:"attempt"`
	Status      string    `json:"status"` // delivered | failed | gave_up
	StatusCode  int       `json:"status_code"`
	Error       string    `json:"error"`
	Replica     string    `json:"replica"`
	At          time.Time `json:"at"`
}

// NotificationQuery filters GET /api/notifications (newest first).
type NotificationQuery struct {
	Channel string `query:"channel"`
	Status  string `query:"status"` // delivered | failed | gave_up
	Page
}
