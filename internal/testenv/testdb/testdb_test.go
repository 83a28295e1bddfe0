package testdb

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// fakeTB records how NewPostgres ends a test without ending this one.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	panic(f)
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	panic(f)
}

func run(t *testing.T) *fakeTB {
	f := &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != f {
				panic(r)
			}
		}()
		NewPostgres(f)
	}()
	return f
}

// Without an admin DSN the PostgreSQL cases are a visible SKIP, and a
// failure when KANADE_TEST_REQUIRE_POSTGRES=1 (as .ci/run sets it).
func TestMissingPostgresSkipsVisiblyOrFails(t *testing.T) {
	t.Setenv(EnvAdminDSN, "")
	t.Setenv(EnvSelect, "")
	t.Setenv(EnvRequire, "")
	if !slices.Contains(Kinds(), "postgres") {
		t.Fatalf("Kinds() = %v: the postgres case must be listed (and skip) without a DSN", Kinds())
	}
	if f := run(t); !strings.Contains(f.skipped, EnvAdminDSN) || f.failed != "" {
		t.Fatalf("without a DSN: skipped %q failed %q, want a skip naming %s", f.skipped, f.failed, EnvAdminDSN)
	}
	t.Setenv(EnvRequire, "1")
	if f := run(t); f.failed == "" || f.skipped != "" {
		t.Fatalf("required without a DSN: skipped %q failed %q, want a failure", f.skipped, f.failed)
	}
}
