package strict

import (
	"fmt"
	"slices"
	"strings"
)

// Reader walks a document against a schema and keeps the first error, so
// schema code can read every field without checking an error after each.
type Reader struct {
	err error
}

// Err returns the first error recorded.
func (r *Reader) Err() error { return r.err }

// Fail records an error for field unless one was recorded already.
func (r *Reader) Fail(field, format string, a ...any) {
	if r.err == nil {
		r.err = fail(field, format, a...)
	}
}

// Object opens n (found at path) as a mapping. A nil or null n yields an
// empty object, so optional sections need no special case.
func (r *Reader) Object(n *Node, path string) *Object {
	o := &Object{r: r, path: path, used: map[string]bool{}}
	if n == nil || n.Kind == Null {
		return o
	}
	if n.Kind != Map {
		what := path
		if what == "" {
			what = "document"
		}
		r.Fail(path, "%s must be a mapping, not %s", what, describe(n))
		return o
	}
	o.n = n
	return o
}

func describe(n *Node) string {
	switch n.Kind {
	case Map:
		return "a mapping"
	case Seq:
		return "a list"
	case Bool:
		return "a boolean"
	case Null:
		return "null"
	default:
		return fmt.Sprintf("the scalar %q", clip(n.Text))
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Object is a mapping being read; call Close when every known key was read.
type Object struct {
	r    *Reader
	path string
	n    *Node
	used map[string]bool
}

// Path returns the field path of key inside this object.
func (o *Object) Path(key string) string { return join(o.path, key) }

// Get returns the value of key (marking it known), or nil when absent or null.
func (o *Object) Get(key string) *Node {
	o.used[key] = true
	if o.n == nil {
		return nil
	}
	for _, p := range o.n.Map {
		if p.Key == key {
			if p.Val == nil || p.Val.Kind == Null {
				return nil
			}
			return p.Val
		}
	}
	return nil
}

// Has reports whether key is present with a non-null value.
func (o *Object) Has(key string) bool {
	if o.n == nil {
		return false
	}
	for _, p := range o.n.Map {
		if p.Key == key {
			return p.Val != nil && p.Val.Kind != Null
		}
	}
	return false
}

// Str reads a scalar as text. Numbers are accepted and keep their text;
// booleans are accepted as "true"/"false" (YAML turns a bare true into one).
func (o *Object) Str(key string) string {
	n := o.Get(key)
	return o.r.ScalarText(n, o.Path(key))
}

// ScalarText returns the text of scalar n found at path ("" for nil).
func (r *Reader) ScalarText(n *Node, path string) string {
	if n == nil {
		return ""
	}
	switch n.Kind {
	case Scalar:
		return n.Text
	case Bool:
		return fmt.Sprint(n.Bool)
	default:
		r.Fail(path, "must be a string, not %s", describe(n))
		return ""
	}
}

// Bool reads a boolean, def when absent.
func (o *Object) Bool(key string, def bool) bool {
	n := o.Get(key)
	if n == nil {
		return def
	}
	if n.Kind != Bool {
		o.r.Fail(o.Path(key), "must be true or false, not %s", describe(n))
		return def
	}
	return n.Bool
}

// List reads a sequence (nil when absent); a non-list is an error.
func (o *Object) List(key string) []*Node {
	n := o.Get(key)
	if n == nil {
		return nil
	}
	if n.Kind != Seq {
		o.r.Fail(o.Path(key), "must be a list, not %s", describe(n))
		return nil
	}
	return n.Seq
}

// StrList reads a list of scalars.
func (o *Object) StrList(key string) []string {
	items := o.List(key)
	if items == nil {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", o.Path(key), i)
		if it == nil || it.Kind == Null {
			o.r.Fail(p, "must not be empty")
			continue
		}
		out = append(out, o.r.ScalarText(it, p))
	}
	return out
}

// Object opens the mapping at key (empty when absent).
func (o *Object) Object(key string) *Object {
	return o.r.Object(o.Get(key), o.Path(key))
}

// Present reports whether the object itself was given (not absent or null).
func (o *Object) Present() bool { return o.n != nil }

// Close reports the first key (in document order) that was never read: an
// unknown field, named by its full path.
func (o *Object) Close() {
	if o.n == nil {
		return
	}
	for _, p := range o.n.Map {
		if !o.used[p.Key] {
			known := make([]string, 0, len(o.used))
			for k := range o.used {
				known = append(known, k)
			}
			slices.Sort(known)
			msg := "unknown field"
			if p.Line > 0 {
				msg += fmt.Sprintf(" (line %d)", p.Line)
			}
			o.r.Fail(o.Path(p.Key), "%s; known fields: %s", msg, strings.Join(known, ", "))
			return
		}
	}
}
