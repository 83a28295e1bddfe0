package store

import (
	"database/sql"
	"os"
)

// Helpers for tests in other packages that check what the projection
// wrote with a query of their own: the store keeps its connections
// unexported, so SQL elsewhere goes through these. Queries use '?'
// placeholders (rewritten for PostgreSQL). Nothing on a serving path may
// call them.

// TB is the part of testing.TB the helpers use (the store does not link
// package testing into the backend).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// TestQueryRow runs a read query on the reader pool; errors surface at
// Scan, so a caller polling during a restart may ignore them.
func TestQueryRow(t TB, db *DB, q string, args ...any) *sql.Row {
	t.Helper()
	return db.read.QueryRow(db.q(q), args...)
}

// TestQuery runs a read query on the reader pool and fails the test on
// error. The caller closes the rows.
func TestQuery(t TB, db *DB, q string, args ...any) *sql.Rows {
	t.Helper()
	rows, err := db.read.Query(db.q(q), args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return rows
}

// TestExec runs a statement on the writer and fails the test on error.
func TestExec(t TB, db *DB, q string, args ...any) sql.Result {
	t.Helper()
	res, err := db.write.Exec(db.q(q), args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res
}

// TestDamageFile writes garbage over the middle page of a closed SQLite
// file, as a failing disk or a stray write would.
func TestDamageFile(t TB, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("damage %s: %v", path, err)
	}
	defer f.Close()
	hdr := make([]byte, 100)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		t.Fatalf("damage %s: header: %v", path, err)
	}
	pageSize := int64(hdr[16])<<8 | int64(hdr[17])
	if pageSize == 1 {
		pageSize = 65536
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatalf("damage %s: %v", path, err)
	}
	pages := st.Size() / pageSize
	if pages < 4 {
		t.Fatalf("damage %s: only %d pages", path, pages)
	}
	garbage := make([]byte, pageSize)
	for i := range garbage {
		garbage[i] = byte(0xA5 ^ i)
	}
	if _, err := f.WriteAt(garbage, pages/2*pageSize); err != nil {
		t.Fatalf("damage %s: %v", path, err)
	}
}
