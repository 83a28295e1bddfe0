package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-fleet/kanade/internal/bus"
)

// KVPins reads script_current and script_status with direct gets and
// remembers the last answer per job, so gates still work while the broker
// is unreachable. One KVPins can serve every agent on a connection.
type KVPins struct {
	nc    *nats.Conn
	mu    sync.Mutex
	cache map[string]Pin
}

// NewKVPins returns a Pins backed by the KV buckets on nc.
func NewKVPins(nc *nats.Conn) *KVPins { return &KVPins{nc: nc, cache: map[string]Pin{}} }

// Lookup implements Pins.
func (p *KVPins) Lookup(ctx context.Context, job string) (Pin, error) {
	pin, err := p.fetch(ctx, job)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.cache[job] = pin
		return pin, nil
	}
	if c, ok := p.cache[job]; ok {
		return c, nil
	}
	return Pin{}, err
}

func (p *KVPins) fetch(ctx context.Context, job string) (Pin, error) {
	if !p.nc.IsConnected() {
		return Pin{}, nats.ErrConnectionClosed
	}
	var pin Pin
	v, _, ok, err := KVGet(ctx, p.nc, bus.KVScriptCurrent, job)
	if err != nil {
		return pin, err
	}
	if ok {
		pin.Version = strings.TrimSpace(string(v))
	}
	v, _, ok, err = KVGet(ctx, p.nc, bus.KVScriptStatus, job)
	if err != nil {
		return pin, err
	}
	if ok {
		pin.Status = strings.TrimSpace(string(v))
	}
	return pin, nil
}

// NATSKills watches kill.<exec_id> with one core subscription per watched
// execution (only while it is queued or running).
type NATSKills struct {
	NC     *nats.Conn
	Logger *slog.Logger
	// Verifier, when set, must accept a kill before it fires; a refused
	// kill is logged and ignored (any client can aim junk at kill.*).
	Verifier Verifier
}

// Watch implements KillSource.
func (k NATSKills) Watch(execID string, fire func()) func() {
	sub, err := k.NC.Subscribe(bus.Kill(execID), func(m *nats.Msg) {
		if k.Verifier != nil {
			if err := k.Verifier.Verify(m.Subject, m.Header, m.Data); err != nil {
				if k.Logger != nil {
					k.Logger.Warn("kill refused: signature check failed; ignored", "exec_id", execID, "reason", err.Error())
				}
				return
			}
		}
		fire()
	})
	if err != nil {
		if k.Logger != nil {
			k.Logger.Error("cannot watch kill subject", "exec_id", execID, "error", err)
		}
		return func() {}
	}
	return func() { _ = sub.Unsubscribe() }
}

// Subscriber keeps an Intake's command subscriptions on a connection:
// commands.all, commands.pc.<pc> and commands.group.<g> per group.
type Subscriber struct {
	nc   *nats.Conn
	in   *Intake
	log  *slog.Logger
	mu   sync.Mutex
	subs map[string]*nats.Subscription

	// FleetSince (set before Start): catch-up skips commands.all and
	// commands.group.* messages stored before it — the PC's enrollment or
	// first start — so a new PC does not run the last fleet-wide command
	// sent before it existed (SPEC §17). Its own commands.pc.<pc> still
	// catch up. Zero: no cut-off.
	FleetSince time.Time
}

// NewSubscriber prepares (but does not start) the subscriptions.
func NewSubscriber(nc *nats.Conn, in *Intake) *Subscriber {
	return &Subscriber{nc: nc, in: in, log: in.log, subs: map[string]*nats.Subscription{}}
}

func (s *Subscriber) subscribeLocked(subject string) error {
	if _, ok := s.subs[subject]; ok {
		return nil
	}
	sub, err := s.nc.Subscribe(subject, func(m *nats.Msg) { s.in.HandleMsg(m.Subject, m.Header, m.Data) })
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", subject, err)
	}
	s.subs[subject] = sub
	return nil
}

// Start subscribes the subjects every agent has.
func (s *Subscriber) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.subscribeLocked(bus.SubjCommandsAll), s.subscribeLocked(bus.CommandsPC(s.in.cfg.PCID)))
}

// SetGroups follows a membership change: the Intake's addressing first (so
// a late message of a group just left is refused), then the subscriptions.
// It returns the subjects of newly joined groups, for the caller to catch up.
func (s *Subscriber) SetGroups(groups []string) ([]string, error) {
	s.in.SetGroups(groups)
	want := map[string]bool{}
	for _, g := range groups {
		want[bus.CommandsGroup(g)] = true
	}
	s.mu.Lock()
	var added []string
	var errs []error
	for subj, sub := range s.subs {
		if strings.HasPrefix(subj, "commands.group.") && !want[subj] {
			_ = sub.Unsubscribe()
			delete(s.subs, subj)
		}
	}
	for subj := range want {
		if _, ok := s.subs[subj]; ok {
			continue
		}
		if err := s.subscribeLocked(subj); err != nil {
			errs = append(errs, err)
			continue
		}
		added = append(added, subj)
	}
	s.mu.Unlock()
	slices.Sort(added)
	if s.nc.IsConnected() {
		// Make the broker know our interest before anyone relies on it.
		_ = s.nc.FlushTimeout(5 * time.Second)
	}
	return added, errors.Join(errs...)
}

// Subjects lists the subscribed command subjects.
func (s *Subscriber) Subjects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.subs))
	for subj := range s.subs {
		out = append(out, subj)
	}
	slices.Sort(out)
	return out
}

// CatchUp feeds the last EXEC message of each subject to the Intake; the
// ledger makes a message seen live and again here harmless. The subject
// handed on (and verified) is the stored message's Nats-Subject, which must
// be the one asked for.
func (s *Subscriber) CatchUp(ctx context.Context, subjects []string) error {
	var errs []error
	for _, subj := range subjects {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m, ok, err := LastMsg(rctx, s.nc, bus.StreamExec, subj)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		if m.Subject != subj {
			errs = append(errs, fmt.Errorf("direct get %s: answer is for %q", subj, m.Subject))
			continue
		}
		if s.beforeJoining(m) {
			s.log.Info("catch-up skips a fleet-wide command stored before this PC joined",
				"subject", m.Subject, "stored_at", m.Time, "joined_at", s.FleetSince)
			continue
		}
		s.in.HandleMsg(m.Subject, m.Header, m.Data)
	}
	return errors.Join(errs...)
}

// beforeJoining: a commands.all / commands.group.* message stored before
// FleetSince. A message without a timestamp is not skipped.
func (s *Subscriber) beforeJoining(m Msg) bool {
	if s.FleetSince.IsZero() || m.Time.IsZero() || !m.Time.Before(s.FleetSince) {
		return false
	}
	return m.Subject == bus.SubjCommandsAll || strings.HasPrefix(m.Subject, bus.CommandsGroup(""))
}

// Close drops every subscription.
func (s *Subscriber) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for subj, sub := range s.subs {
		_ = sub.Unsubscribe()
		delete(s.subs, subj)
	}
}
