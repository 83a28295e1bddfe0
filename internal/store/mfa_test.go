package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/auth"
)

// TestMFAUseOnce: a TOTP step, a recovery code and an mfa_token id are each
// accepted once, even by concurrent writers; deleting the account removes
// its MFA rows.
func TestMFAUseOnce(t *testing.T) {
	for _, d := range accountDBs() {
		t.Run(d.name, func(t *testing.T) {
			db := d.open(t)
			ctx := context.Background()
			at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			u, err := db.InsertAccount(ctx, auth.NewAccount{Username: "mfa-user", PasswordHash: "x", Role: auth.RoleViewer, At: at})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.BeginMFA(ctx, u.ID, "PENDING", []string{"h1", "h2"}, at); err != nil {
				t.Fatal(err)
			}
			if ok, _ := db.UseRecoveryCode(ctx, u.ID, "h1", at); ok {
				t.Error("recovery code accepted before MFA is enabled")
			}
			if err := db.ConfirmMFA(ctx, u.ID, "OTHER", 10, at); err != auth.ErrMFANoPending {
				t.Errorf("confirm another secret: %v", err)
			}
			if err := db.ConfirmMFA(ctx, u.ID, "PENDING", 10, at); err != nil {
				t.Fatal(err)
			}
			if after, _ := db.GetAccountByID(ctx, u.ID); after.TokenVersion != u.TokenVersion+1 {
				t.Errorf("token version %d, want %d", after.TokenVersion, u.TokenVersion+1)
			}
			if err := db.BeginMFA(ctx, u.ID, "AGAIN", nil, at); err != auth.ErrMFAEnabled {
				t.Errorf("re-enrol while enabled: %v", err)
			}
			st, err := db.GetMFA(ctx, u.ID)
			if err != nil || !st.Enabled || st.Secret != "PENDING" || st.PendingSecret != "" || st.LastStep != 10 {
				t.Fatalf("state %+v %v", st, err)
			}
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a, err1 := db.UseTOTPStep(ctx, u.ID, 11)
					b, err2 := db.UseRecoveryCode(ctx, u.ID, "h2", at)
					c, err3 := db.UseMFAChallenge(ctx, "jti-1", at.Add(time.Minute), at)
					if err1 != nil || err2 != nil || err3 != nil {
						t.Error(err1, err2, err3)
					}
					for _, ok := range []bool{a, b, c} {
						if ok {
							wins.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 3 {
				t.Errorf("%d uses accepted, want 3 (one each)", wins.Load())
			}
			if ok, _ := db.UseTOTPStep(ctx, u.ID, 10); ok {
				t.Error("older step accepted")
			}
			if err := db.PutSetting(ctx, auth.SettingMFARequired, "true", "root", at); err != nil {
				t.Fatal(err)
			}
			if s, err := db.MFAStatus(ctx, u.ID); err != nil || !s.Enabled || !s.RequireAll {
				t.Errorf("status %+v %v", s, err)
			}
			if s, err := db.MFAStatus(ctx, "nobody"); err != nil || s.Enabled || !s.RequireAll {
				t.Errorf("status of nobody %+v %v", s, err)
			}
			if err := db.DeleteAccount(ctx, "mfa-user"); err != nil {
				t.Fatal(err)
			}
			if st, _ := db.GetMFA(ctx, u.ID); st.Enabled {
				t.Error("MFA row outlived its account")
			}
		})
	}
}
