package api

import (
	"errors"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/fanout"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// The small JSON bodies (run, groups, freeze, config) never panic and every
// rejection names a field.
func FuzzDecodeBodies(f *testing.F) {
	for _, s := range []string{
		`{"pc_id":"pc1","shell":"sh","script":"echo hi","timeout_secs":5}`,
		`{"pc_id":"pc1","shell":"sh","script":"x","nope":1}`,
		`{"groups":["a","b"]}`, `{"group":"a b"}`, `{"reason":"x","until":"2030-01-01T00:00:00Z"}`,
		`{"heartbeat_interval":"30s","max_local_concurrent":"2"}`, `{"timeout_secs":1e400}`,
		`[]`, `null`, `{"a":1}{"b":2}`, "", `{"pc_id":`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fe *wire.FieldError
		var run apiv1.RunRequest
		if err := decodeStrict(data, &run); err != nil {
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("run: error without a field: %v", err)
			}
		} else if err := fanout.ValidateRun(&run, time.Now()); err != nil && (!errors.As(err, &fe) || fe.Field == "") {
			t.Fatalf("run validate: %v", err)
		}
		var g apiv1.AgentGroups
		if err := decodeStrict(data, &g); err == nil && g.Groups != nil {
			if err := checkGroups("groups", g.Groups); err != nil && (!errors.As(err, &fe) || fe.Field == "") {
				t.Fatalf("groups: %v", err)
			}
		}
		if _, err := decodeScope(data); err != nil && (!errors.As(err, &fe) || fe.Field == "") {
			t.Fatalf("scope: error without a field: %v", err)
		}
	})
}
