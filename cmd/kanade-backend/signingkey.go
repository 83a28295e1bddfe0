package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/config"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/sign"
)

const signingKeyUsage = `usage: kanade-backend signing-key show|rotate|retire [flags]

  show                 the chain in KV signing_keys and its active keys
  rotate               make a new signing key, add it to the chain (signed by the
                       current key) and install it as this backend's key; the old
                       key stays trusted until retired
  retire --key-id ID   retire a key (signed by this backend's key, the chain's newest)

Procedure: rotate on the host holding the key; restart every backend replica
(replicas started with --signing-key need the new file; so do operators who
use kanade run --signing-key); then retire the old key id that rotate printed.

Flags are the backend's (--data-dir, --signing-key, --nats-url, --nats-addr,
--nats-token, --nats-auth-file, --config, and their KANADE_* variables).`

// signingKeyCmd is `kanade-backend signing-key …`.
func signingKeyCmd(args []string, out io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(os.Stderr, signingKeyUsage)
		return errors.New("signing-key: name a subcommand (show, rotate, retire)")
	}
	sub := args[0]
	fs := flag.NewFlagSet("kanade-backend signing-key "+sub, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), signingKeyUsage); fs.PrintDefaults() }
	var cfg server.Config
	fs.String("config", "", "TOML config file (keys are the flag names)")
	fs.StringVar(&cfg.DataDir, "data-dir", "./kanade-data", "the backend's data directory (signing.key)")
	fs.StringVar(&cfg.SigningKey, "signing-key", "", "the backend's signing key file; empty = signing.key in data-dir")
	fs.StringVar(&cfg.NATSURL, "nats-url", "", "external NATS server(s); empty = the embedded broker at --nats-addr")
	fs.StringVar(&cfg.NATSAddr, "nats-addr", "127.0.0.1:4222", "the embedded broker's address")
	fs.StringVar(&cfg.NATSToken, "nats-token", "", "broker token")
	fs.StringVar(&cfg.NATSAuthFile, "nats-auth-file", "", "per-role broker users (the [backend] user is used)")
	var keyIDs string
	if sub == "retire" {
		fs.StringVar(&keyIDs, "key-id", "", "key id(s) to retire, comma-separated")
	}
	env := map[string]string{"data-dir": "KANADE_DATA_DIR", "signing-key": "KANADE_SIGNING_KEY", "nats-url": "KANADE_NATS_URL",
		"nats-addr": "KANADE_NATS_ADDR", "nats-token": "KANADE_NATS_TOKEN", "nats-auth-file": "KANADE_NATS_AUTH_FILE"}
	switch sub {
	case "show", "rotate", "retire":
	default:
		fmt.Fprintln(os.Stderr, signingKeyUsage)
		return fmt.Errorf("signing-key: unknown subcommand %q", sub)
	}
	if err := config.Load(fs, args[1:], env, os.LookupEnv); err != nil {
		return err
	}
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm, err := server.OpenSigningKeyAdmin(cfg)
	if err != nil {
		return err
	}
	defer adm.Close()
	switch sub {
	case "rotate":
		r, err := adm.Rotate(ctx, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "signing key rotated: %s → %s\nnew key: %s (old key kept as %s)\n", r.Old, r.New, r.File, r.OldFile)
		fmt.Fprintf(out, "next: restart every backend replica with the new key, then run\n  kanade-backend signing-key retire --key-id %s\n", r.Old)
		return nil
	case "retire":
		var ids []string
		for _, id := range strings.Split(keyIDs, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
		c, err := adm.Retire(ctx, time.Now(), ids...)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "retired %s; active keys: %s\n", strings.Join(ids, ", "), activeIDs(c))
		return nil
	}
	c, err := adm.Chain(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "active keys: %s\n", activeIDs(c))
	for _, r := range c.Records {
		retire := ""
		if len(r.Retire) > 0 {
			retire = " retires " + strings.Join(r.Retire, ",")
		}
		fmt.Fprintf(out, "record %d: key %s signed by %s at %s%s\n", r.Seq, r.KeyID, r.SignedBy, r.CreatedAt.Format(time.RFC3339), retire)
	}
	return nil
}

func activeIDs(c sign.Chain) string {
	var ids []string
	for _, p := range c.Active() {
		ids = append(ids, sign.KeyID(p))
	}
	return strings.Join(ids, ", ")
}
