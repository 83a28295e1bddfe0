// Package config applies the settings precedence of SPEC §1 to a standard
// flag.FlagSet: command-line flag > environment variable > TOML config file >
// the flag's default. Unknown keys in the file are an error naming the key.
package config

import (
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load parses args into fs, then fills every flag not given on the command
// line from its environment variable (env maps flag name → variable name,
// looked up with lookupEnv: the caller's os.LookupEnv, or a map in tests) or
// from the TOML file named by the flag "config" (if fs defines it). TOML keys
// are the flag names with '-' or '_' (both accepted).
func Load(fs *flag.FlagSet, args []string, env map[string]string, lookupEnv func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })

	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	fromEnv := map[string]bool{}
	for name, variable := range env {
		if explicit[name] {
			continue
		}
		if v, ok := lookupEnv(variable); ok {
			if fs.Lookup(name) == nil {
				return fmt.Errorf("config: env %s maps to unknown flag %q", variable, name)
			}
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("config: %s=%q: %w", variable, v, err)
			}
			fromEnv[name] = true
		}
	}

	cf := fs.Lookup("config")
	if cf == nil || cf.Value.String() == "" {
		return nil
	}
	path := cf.Value.String()
	var raw map[string]any
	if _, err := toml.DecodeFile(path, &raw); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		name := strings.ReplaceAll(k, "_", "-")
		f := fs.Lookup(name)
		if f == nil || name == "config" {
			errs = append(errs, fmt.Errorf("config file %s: unknown key %q", path, k))
			continue
		}
		if explicit[name] || fromEnv[name] {
			continue
		}
		if err := fs.Set(name, fmt.Sprint(raw[k])); err != nil {
			errs = append(errs, fmt.Errorf("config file %s: key %q: %w", path, k, err))
		}
	}
	return errors.Join(errs...)
}
