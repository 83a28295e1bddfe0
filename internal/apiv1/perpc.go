package apiv1

import (
	"encoding/json"
	"errors"
)

// PerPC reconciles each target PC: Once = until it has succeeded once;
// otherwise re-run when its last success is older than Every. On the wire
// it is the authored shape: "once" or {"every": "6h"}.
type PerPC struct {
	Once  bool
	Every string
}

// MarshalJSON writes "once" or {"every": "6h"}.
func (p PerPC) MarshalJSON() ([]byte, error) {
	if p.Once {
		return []byte(`"once"`), nil
	}
	return json.Marshal(map[string]string{"every": p.Every})
}

// UnmarshalJSON reads "once" or {"every": "6h"}.
func (p *PerPC) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != "once" {
			return errors.New(`per_pc: want "once" or {"every": duration}`)
		}
		*p = PerPC{Once: true}
		return nil
	}
	var o struct {
		Every string `json:"every"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return errors.New(`per_pc: want "once" or {"every": duration}`)
	}
	*p = PerPC{Every: o.Every}
	return nil
}
