package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/store"
)

func token(t *testing.T, db *store.DB, id, hash string, uses int, exp time.Time) {
	t.Helper()
	ok(t, db.InsertEnrollmentToken(ctx, store.EnrollmentToken{ID: id, Groups: []string{"lab"}, Uses: uses, UsesLeft: uses,
		ExpiresAt: exp, CreatedBy: "op", CreatedAt: t0}, hash))
}

func enrollIn(hash, pc, key string) store.EnrollInput {
	return store.EnrollInput{TokenHash: hash, PCID: pc, PublicKey: key, Account: "AGENTS", Hostname: pc, OSFamily: "linux", At: t0}
}

func TestEnrollmentTokens(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		token(t, db, "t1", "h1", 1, t0.Add(time.Hour))
		token(t, db, "t2", "h2", 2, t0.Add(-time.Second)) // expired
		ls, err := db.ListEnrollmentTokens(ctx)
		ok(t, err)
		if len(ls) != 2 || ls[0].Groups[0] != "lab" || ls[0].UsesLeft != ls[0].Uses {
			t.Fatalf("list: %+v", ls)
		}

		// Checking a token consumes nothing.
		if _, err := db.CheckEnrollmentToken(ctx, "nope", t0); !errors.Is(err, store.ErrTokenUnknown) {
			t.Fatalf("check unknown token: %v", err)
		}
		if _, err := db.CheckEnrollmentToken(ctx, "h2", t0); !errors.Is(err, store.ErrTokenSpent) {
			t.Fatalf("check expired token: %v", err)
		}
		for range 3 {
			if tok, err := db.CheckEnrollmentToken(ctx, "h1", t0); err != nil || tok.ID != "t1" || tok.UsesLeft != 1 {
				t.Fatalf("check usable token: %+v %v", tok, err)
			}
		}
		if _, err := db.CheckEnrollmentToken(ctx, "h1", t0.Add(time.Hour)); !errors.Is(err, store.ErrTokenSpent) {
			t.Fatalf("check a token at its expiry: %v", err)
		}
		if _, err := db.Enroll(ctx, enrollIn("nope", "pc-1", "UK1")); !errors.Is(err, store.ErrTokenUnknown) {
			t.Fatalf("unknown token: %v", err)
		}
		if _, err := db.Enroll(ctx, enrollIn("h2", "pc-1", "UK1")); !errors.Is(err, store.ErrTokenSpent) {
			t.Fatalf("expired token: %v", err)
		}
		out, err := db.Enroll(ctx, enrollIn("h1", "pc-1", "UK1"))
		ok(t, err)
		if out.Token.ID != "t1" || out.PreviousKey != "" {
			t.Fatalf("outcome %+v", out)
		}
		if _, err := db.Enroll(ctx, enrollIn("h1", "pc-2", "UK2")); !errors.Is(err, store.ErrTokenSpent) {
			t.Fatalf("second use of a one-use token: %v", err)
		}
		if _, err := db.CheckEnrollmentToken(ctx, "h1", t0); !errors.Is(err, store.ErrTokenSpent) {
			t.Fatalf("check a used-up token: %v", err)
		}

		// Already enrolled: refused without consuming the token.
		token(t, db, "t3", "h3", 5, t0.Add(time.Hour))
		if _, err := db.Enroll(ctx, enrollIn("h3", "pc-1", "UK3")); !errors.Is(err, store.ErrAlreadyEnrolled) {
			t.Fatalf("already enrolled: %v", err)
		}
		if ok, _ := db.AllowReenroll(ctx, "pc-x"); ok {
			t.Fatal("reenroll of an unknown pc reported done")
		}
		if allowed, err := db.AllowReenroll(ctx, "pc-1"); err != nil || !allowed {
			t.Fatal("reenroll not allowed")
		}
		if _, err := db.Enroll(ctx, enrollIn("h3", "pc-1", "UK1")); !errors.Is(err, store.ErrKeyRevoked) {
			t.Fatalf("re-enrollment with the same key: %v", err)
		}
		out, err = db.Enroll(ctx, enrollIn("h3", "pc-1", "UK3"))
		ok(t, err)
		if out.PreviousKey != "UK1" {
			t.Fatalf("re-enrollment outcome %+v", out)
		}
		e, found, err2 := db.GetEnrollment(ctx, "pc-1")
		if err2 != nil || !found || e.PublicKey != "UK3" || e.ReenrollAllowed || e.TokenID != "t3" {
			t.Fatalf("enrollment %+v %v %v", e, found, err2)
		}
		// Permission is used up by one re-enrollment.
		if _, err := db.Enroll(ctx, enrollIn("h3", "pc-1", "UK4")); !errors.Is(err, store.ErrAlreadyEnrolled) {
			t.Fatalf("second re-enrollment: %v", err)
		}

		// Unenroll revokes the key; a revoked key never enrolls again.
		gone, found, err3 := db.Unenroll(ctx, "pc-1", "AGENTS", t0)
		if err3 != nil || !found || gone.PublicKey != "UK3" {
			t.Fatalf("unenroll %+v %v %v", gone, found, err3)
		}
		if _, found, _ := db.Unenroll(ctx, "pc-1", "AGENTS", t0); found {
			t.Fatal("unenrolled twice")
		}
		revs, err := db.BrokerRevocations(ctx)
		ok(t, err)
		if revs["AGENTS"]["UK1"] != t0.Unix() || revs["AGENTS"]["UK3"] != t0.Unix() || len(revs["AGENTS"]) != 2 {
			t.Fatalf("revocations %v", revs)
		}
		if _, err := db.Enroll(ctx, enrollIn("h3", "pc-1", "UK3")); !errors.Is(err, store.ErrKeyRevoked) {
			t.Fatalf("revoked key: %v", err)
		}
		_, err = db.Enroll(ctx, enrollIn("h3", "pc-1", "UK5"))
		ok(t, err)

		d1, _ := db.DeleteEnrollmentToken(ctx, "t3")
		d2, _ := db.DeleteEnrollmentToken(ctx, "t3")
		if !d1 || d2 {
			t.Fatal("delete token")
		}
		if _, err := db.Enroll(ctx, enrollIn("h3", "pc-9", "UK9")); !errors.Is(err, store.ErrTokenUnknown) {
			t.Fatalf("deleted token: %v", err)
		}
		if _, err := db.CheckEnrollmentToken(ctx, "h3", t0); !errors.Is(err, store.ErrTokenUnknown) {
			t.Fatalf("check a deleted token: %v", err)
		}
	})
}

// TestEnrollmentTokenRace: many PCs race for one use; exactly one wins.
func TestEnrollmentTokenRace(t *testing.T) {
	eachDB(t, false, func(t *testing.T, db *store.DB) {
		for round := range 5 {
			hash := fmt.Sprintf("race-%d", round)
			token(t, db, hash, hash, 1, t0.Add(time.Hour))
			const n = 8
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				wins  int
				other []error
			)
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					_, err := db.Enroll(ctx, enrollIn(hash, fmt.Sprintf("pc-%d-%d", round, i), fmt.Sprintf("UK%d-%d", round, i)))
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case !errors.Is(err, store.ErrTokenSpent):
						other = append(other, err)
					}
				})
			}
			close(start)
			wg.Wait()
			if wins != 1 || len(other) > 0 {
				t.Fatalf("round %d: %d winners, unexpected errors %v", round, wins, other)
			}
		}
	})
}
