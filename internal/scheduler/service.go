package scheduler

import (
	"context"
	"os"
	"sync"

	"github.com/google/uuid"

	"github.com/kanade-fleet/kanade/internal/backend"
	"github.com/kanade-fleet/kanade/internal/leader"
)

// LockKey is the scheduler's key in KV locks. The same lock gates every
// backend duty that must run on one replica only (schedules, due waves).
const LockKey = "scheduler"

// Service runs the leader election and the scheduler inside a backend
// (backend.Config.Services). Other single-replica duties (the wave
// dispatcher) gate themselves on Service.IsLeader.
type Service struct {
	newDispatcher func(b *backend.Backend) Dispatcher
	opts          Options

	mu      sync.Mutex
	elector *leader.Elector
	sched   *Scheduler
	ready   chan struct{}
}

// NewService returns a service whose dispatcher is built once the backend
// is up (it needs the backend's store and JetStream).
func NewService(newDispatcher func(b *backend.Backend) Dispatcher, opts Options) *Service {
	return &Service{newDispatcher: newDispatcher, opts: opts, ready: make(chan struct{})}
}

// Run is a backend.Config.Services entry: it campaigns for the lock and
// runs the scheduler until ctx ends, then releases the lock.
func (s *Service) Run(ctx context.Context, b *backend.Backend) {
	host, _ := os.Hostname()
	holder := host + "-" + uuid.NewString()[:8]
	el := leader.New(b.KV.Locks, LockKey, holder, b.Log)
	sc := New(Deps{Schedules: b.KV.Schedules, Jobs: b.KV.Jobs, Freeze: b.KV.Freeze, Store: b.DB, Dispatcher: s.newDispatcher(b), Leader: el, Audit: b.Audit,
		Events: b.Live, Log: b.Log, Holder: holder}, s.opts)
	s.mu.Lock()
	s.elector, s.sched = el, sc
	close(s.ready)
	s.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { _ = el.Run(ctx) })
	_ = sc.Run(ctx)
	wg.Wait()
}

// IsLeader reports whether this backend holds the scheduler lock (false
// before Run has started).
func (s *Service) IsLeader() bool {
	s.mu.Lock()
	el := s.elector
	s.mu.Unlock()
	return el != nil && el.IsLeader()
}

// Ready is closed once Run has created the elector and scheduler.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Elector is the leader election (nil before Run).
func (s *Service) Elector() *leader.Elector {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.elector
}

// Scheduler is the running scheduler (nil before Run).
func (s *Service) Scheduler() *Scheduler {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sched
}
