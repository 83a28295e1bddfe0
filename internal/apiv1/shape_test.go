package apiv1_test

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/api"
	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/fanout"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/schedule"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// TestShapesMatchServer pins every contract type to the type the server
// encodes today: same JSON names, order, omitempty and JSON kinds. It goes
// away type by type as the server declares its types as aliases of apiv1.
func TestShapesMatchServer(t *testing.T) {
	t.Parallel()
	pairs := []struct{ contract, server any }{
		{apiv1.Agent{}, store.Agent{}},
		{apiv1.Execution{}, store.Execution{}},
		{apiv1.Result{}, store.ResultRow{}},
		{apiv1.AuditEntry{}, store.AuditRow{}},
		{apiv1.GroupMembers{}, store.GroupMembers{}},
		{apiv1.Heartbeat{}, wire.Heartbeat{}},
		{apiv1.ExecResult{}, wire.ExecResult{}},
		{apiv1.AgentGroups{}, wire.AgentGroups{}},
		{apiv1.ConfigScope{}, wire.ConfigScope{}},
		{apiv1.EffectiveConfig{}, wire.EffectiveConfig{}},
		{apiv1.EffectiveView{}, api.EffectiveView{}},
		{apiv1.FreezeView{}, api.FreezeView{}},
		{apiv1.Job{}, api.Job{}},
		{apiv1.Manifest{}, manifest.Manifest{}},
		{apiv1.ExecRequest{}, manifest.Plan{}},
		{apiv1.ExecResponse{}, fanout.ExecResponse{}},
		{apiv1.KillResponse{}, fanout.KillResponse{}},
		{apiv1.ExecKillResponse{}, fanout.ExecKillResponse{}},
		{apiv1.RunRequest{}, fanout.RunRequest{}},
		{apiv1.Schedule{}, schedule.Schedule{}},
		{apiv1.ScheduleRow{}, api.ScheduleRow{}},
		{apiv1.LoginRequest{}, auth.LoginRequest{}},
		{apiv1.LoginResponse{}, auth.LoginResponse{}},
		{apiv1.Me{}, auth.MeResponse{}},
		{apiv1.Account{}, auth.User{}},
	}
	for _, p := range pairs {
		c, s := reflect.TypeOf(p.contract), reflect.TypeOf(p.server)
		if got, want := shape(c), shape(s); got != want {
			t.Errorf("apiv1.%s differs from %s:\n apiv1:  %s\n server: %s", c.Name(), s, got, want)
		}
	}
}

// TestPerPCRoundTrip: the custom per_pc encoding is the schedule package's.
func TestPerPCRoundTrip(t *testing.T) {
	t.Parallel()
	for _, p := range []schedule.PerPC{{Once: true}, {Every: "6h"}} {
		want, _ := json.Marshal(p)
		var c apiv1.PerPC
		if err := json.Unmarshal(want, &c); err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(c)
		if string(got) != string(want) {
			t.Errorf("per_pc %s re-encoded as %s", want, got)
		}
	}
}

var (
	timeT      = reflect.TypeOf(time.Time{})
	rawT       = reflect.TypeOf(json.RawMessage{})
	marshalerT = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textT      = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
)

// shape renders a type as JSON sees it.
func shape(t reflect.Type) string {
	switch {
	case t == timeT:
		return "time"
	case t == rawT:
		return "raw"
	case t.Implements(marshalerT):
		return "custom"
	case t.Implements(textT):
		return "string"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Pointer:
		return "*" + shape(t.Elem())
	case reflect.Slice:
		return "[]" + shape(t.Elem())
	case reflect.Map:
		return "map[" + shape(t.Key()) + "]" + shape(t.Elem())
	case reflect.Interface:
		return "any"
	case reflect.Struct:
		return "{" + strings.Join(fields(t), " ") + "}"
	}
	return t.Kind().String()
}

func fields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			out = append(out, fields(f.Type)...)
			continue
		}
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, name+"("+opts+"):"+shape(f.Type))
	}
	return out
}
