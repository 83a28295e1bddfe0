package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
)

// brokerConfig prints the trust part of an external nats-server.conf for
// the install in --data-dir (docs/scale-out.md): the operator, the system
// account, a full resolver and the account JWTs with every revocation
// recorded so far. It creates the trust chain if the data dir has none,
// so it can run before the backend's first start.
func brokerConfig(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("kanade-backend broker-config", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./kanade-data", "the backend's data dir (holds broker-keys.json)")
	dsn := fs.String("db", "", "the backend's database (revocations): empty = SQLite in data-dir; postgres://…")
	resolverDir := fs.String("resolver-dir", "/var/lib/nats/resolver", "where each nats-server keeps the account JWTs it receives")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if v := os.Getenv("KANADE_DATA_DIR"); v != "" && !flagSet(fs, "data-dir") {
		*dataDir = v
	}
	if v := os.Getenv("KANADE_DB"); v != "" && !flagSet(fs, "db") {
		*dsn = v
	}
	if err := os.MkdirAll(*dataDir, 0o750); err != nil {
		return err
	}
	ctx := context.Background()
	db, err := store.Open(ctx, *dsn, *dataDir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer db.Close()
	a, _, err := server.LoadAuthority(ctx, *dataDir, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "# kanade-backend broker-config --data-dir %s\n", filepath.Clean(*dataDir))
	_, err = io.WriteString(out, a.ServerConfig(*resolverDir))
	return err
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
