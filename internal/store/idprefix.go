package store

import "strings"

// addIDPrefix keeps the rows whose col (a primary key of subject-safe ids)
// starts with prefix, for the CLI's git-like short ids. The range reads
// the key's index; the LIKE keeps the match exact where a collation (or
// SQLite's case-insensitive LIKE) would widen the range alone.
func (w *where) addIDPrefix(col, prefix string) {
	if prefix == "" {
		return
	}
	upper := prefix[:len(prefix)-1] + string(prefix[len(prefix)-1]+1)
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	w.add(col+" >= ? AND "+col+" < ? AND "+col+` LIKE ? ESCAPE '\'`, prefix, upper, r.Replace(prefix)+"%")
}
