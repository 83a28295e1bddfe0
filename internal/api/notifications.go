package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/notify"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Channels is KV notification_channels (*kv.NotifyChannels).
type Channels interface {
	List(ctx context.Context) ([]notify.Channel, error)
	Get(ctx context.Context, id string) (notify.Channel, uint64, error)
	Put(ctx context.Context, c notify.Channel, rev uint64) error
	Delete(ctx context.Context, id string) error
}

// Audit actions of notification channels.
const (
	ActionChannelCreate = "notification_channel.create"
	ActionChannelUpdate = "notification_channel.update"
	ActionChannelDelete = "notification_channel.delete"
	ActionChannelTest   = "notification_channel.test"
)

// channelView is the API form of a channel: no secret, only *_set flags.
func channelView(c notify.Channel) apiv1.NotificationChannel {
	v := apiv1.NotificationChannel{ID: c.ID, Name: c.Name, Type: c.Type, URLSet: c.URL != "", To: c.To, SecretSet: c.Secret != "",
		MinSeverity: c.MinSeverity, Groups: c.Groups, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if c.Type == notify.TypeWebhook {
		v.URL = c.URL // a Slack URL is itself the credential and is not shown
	}
	if v.To == nil {
		v.To = []string{}
	}
	if v.Groups == nil {
		v.Groups = []string{}
	}
	if s := c.SMTP; s != nil {
		v.SMTP = &apiv1.SMTPView{Host: s.Host, Port: s.Port, Username: s.Username, PasswordSet: s.Password != "", From: s.From,
			StartTLS: s.StartTLS, InsecureSkipVerify: s.InsecureSkipVerify}
	}
	return v
}

// channelAudit is what the audit log records of a channel: no secret.
func channelAudit(c notify.Channel) map[string]any {
	return map[string]any{"id": c.ID, "name": c.Name, "type": c.Type, "min_severity": c.MinSeverity, "groups": c.Groups}
}

func channelFrom(in apiv1.NotificationChannelInput) notify.Channel {
	c := notify.Channel{ID: in.ID, Name: in.Name, Type: in.Type, URL: strings.TrimSpace(in.URL), To: in.To, Secret: in.Secret,
		MinSeverity: in.MinSeverity, Groups: in.Groups}
	if s := in.SMTP; s != nil {
		c.SMTP = &notify.SMTP{Host: s.Host, Port: s.Port, Username: s.Username, Password: s.Password, From: s.From,
			StartTLS: s.StartTLS == nil || *s.StartTLS, InsecureSkipVerify: s.InsecureSkipVerify}
	}
	return c
}

func (s *Server) channels(w http.ResponseWriter) (Channels, bool) {
	if s.d.Channels == nil {
		WriteError(w, http.StatusServiceUnavailable, "notifications are not configured on this backend", "")
		return nil, false
	}
	return s.d.Channels, true
}

// channelErr maps the channel store's errors.
func (s *Server) channelErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, kv.ErrChannelNotFound):
		WriteError(w, http.StatusNotFound, "no such notification channel", "id")
	case kv.IsConflict(err):
		WriteError(w, http.StatusConflict, "the channel exists or was changed meanwhile", "id")
	default:
		s.fail(w, r, err)
	}
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request) {
	cs, ok := s.channels(w)
	if !ok {
		return
	}
	p, err := page(r)
	if err == nil {
		err = keyLen(p, 1)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	all, err := cs.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	views := make([]apiv1.NotificationChannel, len(all))
	for i, c := range all {
		views[i] = channelView(c)
	}
	// Sorted by id (kv.List): the cursor is the last id served.
	listed(w, r, window(views, p, func(c apiv1.NotificationChannel) cursor.Key { return cursor.Key{c.ID} },
		func(c apiv1.NotificationChannel, k cursor.Key) bool { return c.ID > k[0] }))
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request) {
	cs, ok := s.channels(w)
	if !ok {
		return
	}
	c, _, err := cs.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.channelErr(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, channelView(c))
}

func readChannel(r *http.Request) (apiv1.NotificationChannelInput, error) {
	var in apiv1.NotificationChannelInput
	data, err := readBody(r)
	if err == nil {
		err = decodeStrict(data, &in)
	}
	return in, err
}

func (s *Server) createChannel(w http.ResponseWriter, r *http.Request) {
	cs, ok := s.channels(w)
	if !ok {
		return
	}
	in, err := readChannel(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c := channelFrom(in)
	if c.ID == "" {
		c.ID = "ch-" + uuid.NewString()[:8]
	}
	if err := c.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	c.CreatedAt = time.Now().UTC().Truncate(time.Second)
	c.UpdatedAt = c.CreatedAt
	if err := cs.Put(r.Context(), c, 0); err != nil {
		s.channelErr(w, r, err)
		return
	}
	s.auditf(r, ActionChannelCreate, c.ID, channelAudit(c))
	WriteJSON(w, http.StatusCreated, channelView(c))
}

func (s *Server) updateChannel(w http.ResponseWriter, r *http.Request) {
	cs, ok := s.channels(w)
	if !ok {
		return
	}
	id := r.PathValue("id")
	in, err := readChannel(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if in.ID != "" && in.ID != id {
		s.fail(w, r, &wire.FieldError{Field: "id", Msg: "is the path's id (a channel cannot be renamed)"})
		return
	}
	old, rev, err := cs.Get(r.Context(), id)
	if err != nil {
		s.channelErr(w, r, err)
		return
	}
	c := channelFrom(in)
	c.ID = id
	c.KeepSecrets(old)
	if err := c.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	c.CreatedAt, c.UpdatedAt = old.CreatedAt, time.Now().UTC().Truncate(time.Second)
	if err := cs.Put(r.Context(), c, rev); err != nil {
		s.channelErr(w, r, err)
		return
	}
	payload := channelAudit(c)
	payload["secret_changed"] = c.Secret != old.Secret
	s.auditf(r, ActionChannelUpdate, c.ID, payload)
	WriteJSON(w, http.StatusOK, channelView(c))
}

func (s *Server) deleteChannel(w http.ResponseWriter, r *http.Request) {
	cs, ok := s.channels(w)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if err := cs.Delete(r.Context(), id); err != nil {
		s.channelErr(w, r, err)
		return
	}
	s.auditf(r, ActionChannelDelete, id, map[string]any{"id": id})
	w.WriteHeader(http.StatusNoContent)
}

// testChannel queues a test notification through the same stream, sender
// and delivery log as any other; the answer is its delivery id.
func (s *Server) testChannel(w http.ResponseWriter, r *http.Request) {
	cs, ok := s.channels(w)
	if !ok {
		return
	}
	c, _, err := cs.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.channelErr(w, r, err)
		return
	}
	n := notify.TestNotification(c.ID, "t"+strings.ReplaceAll(uuid.NewString(), "-", "")[:24], time.Now())
	if err := notify.Enqueue(r.Context(), s.d.JS, n); err != nil {
		s.d.Log.Warn("test notification not queued", "channel_id", c.ID, "error", err)
		w.Header().Set("Retry-After", RetryAfterBroker)
		WriteError(w, http.StatusServiceUnavailable, "the broker did not take the test notification; retry later", "")
		return
	}
	s.auditf(r, ActionChannelTest, c.ID, map[string]any{"id": c.ID, "delivery_id": n.ID})
	WriteJSON(w, http.StatusAccepted, apiv1.TestNotificationResponse{DeliveryID: n.ID})
}

func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status, err := oneOf(r, "status", wire.AttemptStatuses...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ch := r.URL.Query().Get("channel")
	if ch != "" && !notify.ValidID(ch) {
		s.fail(w, r, errBadParam{"channel", "is not a channel id"})
		return
	}
	l, err := s.d.Store.PageNotifications(r.Context(), store.NotificationFilter{Channel: ch, Status: status}, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed(w, r, l)
}
