package broker

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"sort"

	"github.com/BurntSushi/toml"
)

// bcryptPrefix is how nats-server recognises a bcrypt hash.
var bcryptPrefix = regexp.MustCompile(`^\$2[abxy]\$\d{2}\$`)

// IsHash reports whether the password is a bcrypt hash, which nats-server
// compares instead of the plain text.
func (c Credential) IsHash() bool { return bcryptPrefix.MatchString(c.Password) }

// AuthFile is the parsed --nats-auth-file.
type AuthFile struct {
	RoleCredentials
	// Permissive is set when the file can be read by other local users
	// (Unix mode bits); the backend warns about it.
	Permissive bool
}

// LoadAuthFile reads the broker credentials file of kanade-backend:
//
//	[backend]
//	user = "kanade-backend"
//	password = "…"            # plain: the backend connects with it
//	[agent]
//	user = "kanade-agent"
//	password = "$2a$10$…"     # plain or a bcrypt hash
//	[operator]
//	user = "kanade-operator"
//	password = "…"
//
// Unknown keys are an error naming the key. Which sections are required
// depends on the broker: ValidateEmbedded / ValidateExternal.
func LoadAuthFile(path string) (AuthFile, error) {
	var raw struct {
		Backend, Agent, Operator struct {
			User     string `toml:"user"`
			Password string `toml:"password"`
		}
	}
	md, err := toml.DecodeFile(path, &raw)
	if err != nil {
		return AuthFile{}, fmt.Errorf("nats auth file %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return AuthFile{}, fmt.Errorf("nats auth file %s: unknown key %q (want [backend], [agent], [operator] with user and password)", path, keys[0])
	}
	f := AuthFile{RoleCredentials: RoleCredentials{
		Backend:  Credential{User: raw.Backend.User, Password: raw.Backend.Password},
		Agent:    Credential{User: raw.Agent.User, Password: raw.Agent.Password},
		Operator: Credential{User: raw.Operator.User, Password: raw.Operator.Password},
	}}
	if st, err := os.Stat(path); err == nil && runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		f.Permissive = true
	}
	return f, nil
}

// ValidateExternal checks what an external broker needs: the backend's own
// credential, in plain text since the backend presents it.
func (c RoleCredentials) ValidateExternal() error {
	switch {
	case c.Backend.User == "" || c.Backend.Password == "":
		return errors.New("nats auth file: [backend] user and password are required")
	case c.Backend.IsHash():
		return errors.New("nats auth file: the [backend] password must be plain text (the backend logs in with it); only agent and operator passwords may be bcrypt hashes")
	}
	return nil
}

// ValidateEmbedded checks what the embedded broker needs: all three roles,
// distinct users, and a plain backend password.
func (c RoleCredentials) ValidateEmbedded() error {
	if err := c.ValidateExternal(); err != nil {
		return err
	}
	_, err := c.Users()
	return err
}
