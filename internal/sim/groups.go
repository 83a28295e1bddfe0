package sim

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/kv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// GroupSpec assigns a share of the fleet to a group: Percent of it, Count
// agents, or (Rest) everything no earlier spec took.
type GroupSpec struct {
	Name    string
	Percent float64
	Count   int
	Rest    bool
}

// ParseGroups parses "canary:1%,wave1:rest" / "lab:25" (comma-separated
// NAME:PCT%, NAME:COUNT or NAME:rest). Specs take consecutive slices of the
// fleet in order, so memberships do not overlap.
func ParseGroups(s string) ([]GroupSpec, error) {
	var out []GroupSpec
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, share, ok := strings.Cut(part, ":")
		if !ok || !wire.ValidID(name) {
			return nil, fmt.Errorf("group %q: want NAME:PCT%%, NAME:COUNT or NAME:rest", part)
		}
		g := GroupSpec{Name: name}
		switch {
		case share == "rest":
			g.Rest = true
		case strings.HasSuffix(share, "%"):
			p, err := strconv.ParseFloat(strings.TrimSuffix(share, "%"), 64)
			if err != nil || p <= 0 || p > 100 {
				return nil, fmt.Errorf("group %q: bad percentage", part)
			}
			g.Percent = p
		default:
			n, err := strconv.Atoi(share)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("group %q: bad count", part)
			}
			g.Count = n
		}
		out = append(out, g)
	}
	return out, nil
}

// Assign maps agent index → group names for a fleet of n.
func Assign(specs []GroupSpec, n int) [][]string {
	out := make([][]string, n)
	next := 0
	for _, g := range specs {
		take := g.Count
		switch {
		case g.Rest:
			take = n - next
		case g.Percent > 0:
			take = int(math.Ceil(g.Percent / 100 * float64(n)))
		}
		for i := next; i < min(next+take, n); i++ {
			out[i] = append(out[i], g.Name)
		}
		next = min(next+take, n)
	}
	return out
}

// writeGroups writes KV agent_groups for every simulated PC (deleting the
// key of PCs in no group), the way an operator's group edits would.
func (f *Fleet) writeGroups(ctx context.Context) error {
	nc, err := f.connect("kanade-sim/groups", "")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	groups := kv.New(js, nil).AgentGroups
	assign := Assign(f.cfg.Groups, f.cfg.N)
	work := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				pc := PCID(f.cfg.Prefix, i)
				var err error
				if len(assign[i]) == 0 {
					err = groups.Delete(ctx, pc)
				} else {
					err = groups.Put(ctx, pc, assign[i])
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("sim: agent_groups %s: %w", pc, err):
					default:
					}
				}
			}
		}()
	}
	for i := range f.cfg.N {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}
