package main

import (
	"flag"
	"testing"

	"github.com/kanade-fleet/kanade/internal/config"
	"github.com/kanade-fleet/kanade/internal/server"
)

// Per-agent identity is the default for an embedded broker with no broker
// auth chosen; --dev, a token, an auth file, an external broker or an
// explicit --nats-identity=false keep it off.
func TestIdentityIsTheDefault(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want bool
	}{
		{nil, nil, true},
		{[]string{"--dev"}, nil, false},
		{[]string{"--nats-token", "t"}, nil, false},
		{nil, map[string]string{"KANADE_NATS_TOKEN": "t"}, false},
		{[]string{"--nats-auth-file", "f.toml"}, nil, false},
		{[]string{"--nats-url", "nats://x:4222"}, nil, false},
		{[]string{"--nats-url", "nats://x:4222", "--nats-identity"}, nil, true},
		{[]string{"--nats-identity=false"}, nil, false},
		{nil, map[string]string{"KANADE_NATS_IDENTITY": "false"}, false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var cfg server.Config
		fs.BoolVar(&cfg.Dev, "dev", false, "")
		fs.StringVar(&cfg.NATSToken, "nats-token", "", "")
		fs.StringVar(&cfg.NATSAuthFile, "nats-auth-file", "", "")
		fs.StringVar(&cfg.NATSURL, "nats-url", "", "")
		fs.BoolVar(&cfg.NATSIdentity, "nats-identity", false, "")
		fs.String("config", "", "")
		env := map[string]string{"nats-token": "KANADE_NATS_TOKEN", "nats-identity": "KANADE_NATS_IDENTITY"}
		lookup := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
		if err := config.Load(fs, c.args, env, lookup); err != nil {
			t.Fatal(err)
		}
		defaultIdentity(fs, &cfg)
		if cfg.NATSIdentity != c.want {
			t.Errorf("%v %v: identity %v, want %v", c.args, c.env, cfg.NATSIdentity, c.want)
		}
	}
}
