package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
)

// accountDBs are the connection setups the last-admin guard must hold on:
// as Open makes them, and with several writer connections (on SQLite with
// deferred transactions too, so nothing but the guard's own first write
// serialises two changes).
type accountDB struct {
	name string
	open func(t *testing.T) *DB
}

func accountDBs() []accountDB {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	out := []accountDB{
		{"sqlite", func(t *testing.T) *DB {
			db, err := Open(context.Background(), "", t.TempDir(), log)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}},
		{"sqlite-several-writers", func(t *testing.T) *DB {
			base := "file:" + filepath.Join(t.TempDir(), "backend.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
			w, err := sql.Open("sqlite", base)
			if err != nil {
				t.Fatal(err)
			}
			w.SetMaxOpenConns(4)
			r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
			if err != nil {
				t.Fatal(err)
			}
			db := &DB{write: w, read: r, d: sqlite, log: log}
			t.Cleanup(func() { db.Close() })
			if err := db.migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			return db
		}},
	}
	// Listed without PostgreSQL too: testdb.NewPostgres skips them visibly.
	for _, conns := range []int{1, 4} {
		out = append(out, accountDB{fmt.Sprintf("postgres-%d-conns", conns), func(t *testing.T) *DB {
			db, err := Open(context.Background(), testdb.NewPostgres(t), t.TempDir(), log)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			db.write.SetMaxOpenConns(conns)
			return db
		}})
	}
	return out
}

// TestLastAdminGuardConcurrent: two requests that would each remove one of
// the last two admins race; exactly one may win, every round.
func TestLastAdminGuardConcurrent(t *testing.T) {
	for _, c := range accountDBs() {
		t.Run(c.name, func(t *testing.T) {
			db := c.open(t)
			ctx := context.Background()
			op, yes := auth.RoleOperator, true
			ops := map[string]func(name string) error{
				"demote": func(n string) error {
					_, err := db.UpdateAccount(ctx, n, auth.AccountChange{Role: &op, At: time.Now()})
					return err
				},
				"disable": func(n string) error {
					_, err := db.UpdateAccount(ctx, n, auth.AccountChange{Disabled: &yes, At: time.Now()})
					return err
				},
				"delete": func(n string) error { return db.DeleteAccount(ctx, n) },
			}
			names := []string{"demote", "disable", "delete"}
			for round := range 12 {
				if _, err := db.write.Exec(`DELETE FROM users`); err != nil {
					t.Fatal(err)
				}
				for _, n := range []string{"a1", "a2"} {
					if _, err := db.InsertAccount(ctx, auth.NewAccount{Username: n, PasswordHash: "x", Role: auth.RoleAdmin,
						At: time.Now()}); err != nil {
						t.Fatal(err)
					}
				}
				f1, f2 := ops[names[round%3]], ops[names[(round/3)%3]]
				var wg sync.WaitGroup
				errs := make([]error, 2)
				start := make(chan struct{})
				wg.Add(2)
				go func() { defer wg.Done(); <-start; errs[0] = f1("a1") }()
				go func() { defer wg.Done(); <-start; errs[1] = f2("a2") }()
				close(start)
				wg.Wait()
				won := 0
				for _, err := range errs {
					switch {
					case err == nil:
						won++
					case errors.Is(err, auth.ErrLastAdmin):
					default:
						t.Fatalf("round %d: %v", round, err)
					}
				}
				var admins int
				if err := db.write.QueryRow(`SELECT COUNT(*) FROM users WHERE role='admin' AND disabled=0`).Scan(&admins); err != nil {
					t.Fatal(err)
				}
				if won != 1 || admins != 1 {
					t.Fatalf("round %d (%s,%s): %d succeeded, %d enabled admins left (errs %v)",
						round, names[round%3], names[(round/3)%3], won, admins, errs)
				}
			}
		})
	}
}

// TestAccountTimestamps: accounts are written with the store's one codec,
// the fixed-width UTC layout auth used to keep its own copy of, so existing
// rows and their order stay valid.
func TestAccountTimestamps(t *testing.T) {
	db := accountDBs()[0].open(t)
	ctx := context.Background()
	at := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	u, err := db.InsertAccount(ctx, auth.NewAccount{Username: "ts", PasswordHash: "x", Role: auth.RoleViewer, At: at})
	if err != nil {
		t.Fatal(err)
	}
	var created, updated string
	if err := db.read.QueryRow(`SELECT created_at, updated_at FROM users WHERE username = 'ts'`).Scan(&created, &updated); err != nil {
		t.Fatal(err)
	}
	if want := "2030-01-02T02:04:05.123456Z"; created != want || updated != want {
		t.Errorf("stored %q %q, want %q", created, updated, want)
	}
	if !u.CreatedAt.Equal(at.Truncate(time.Microsecond)) || u.CreatedAt.Location() != time.UTC {
		t.Errorf("read back %v", u.CreatedAt)
	}
	until, err := db.RecordLoginFailure(ctx, "ts", 1, at.Add(time.Hour))
	if err != nil || !until.Equal(at.Add(time.Hour).Truncate(time.Microsecond)) {
		t.Errorf("lock: %v %v", until, err)
	}
	if _, err := db.RecordLoginFailure(ctx, "nobody", 1, at); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("unknown account: %v", err)
	}
}
