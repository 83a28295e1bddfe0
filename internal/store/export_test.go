package store

import "database/sql"

// Internals lent to the external tests (package store_test).

// Writer returns the writer pool (the COPY benchmark needs a raw conn).
func Writer(db *DB) *sql.DB { return db.write }

// IsPostgres reports whether db is on PostgreSQL.
func IsPostgres(db *DB) bool { return db.d == postgres }

// Inventory search modes for SetInventoryMode.
const (
	InvAuto  = 0
	InvScan  = invModeScan
	InvTerms = invModeTerms
)

// SetInventoryMode forces how inventory substring searches are answered.
func SetInventoryMode(db *DB, m int) { db.invMode = m }
