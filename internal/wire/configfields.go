package wire

import (
	"reflect"
	"strings"
)

// ConfigField is one settable field of a ConfigScope.
type ConfigField struct {
	Name    string // the JSON name, e.g. "heartbeat_interval"
	Integer bool   // an integer; otherwise a string
}

// ConfigFields lists the fields of ConfigScope in declaration order. It is
// read off the struct, so a field added there is known to every user of
// the list (CLI, API) without being written down again.
var ConfigFields = configFields()

func configFields() []ConfigField {
	t := reflect.TypeOf(ConfigScope{})
	out := make([]ConfigField, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, ConfigField{Name: name, Integer: f.Type.Elem().Kind() == reflect.Int})
	}
	return out
}

// ConfigFieldNames returns the names of ConfigFields.
func ConfigFieldNames() []string {
	out := make([]string, len(ConfigFields))
	for i, f := range ConfigFields {
		out[i] = f.Name
	}
	return out
}

// LookupConfigField finds a field of ConfigScope by its JSON name.
func LookupConfigField(name string) (ConfigField, bool) {
	for _, f := range ConfigFields {
		if f.Name == name {
			return f, true
		}
	}
	return ConfigField{}, false
}
