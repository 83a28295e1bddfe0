// Package strict turns YAML or JSON documents into a small generic tree
// and reads it against a fixed schema, so that every problem — a syntax
// error, an unknown key, a value of the wrong shape — comes back as a
// *wire.FieldError naming the field path (e.g. "execute.timout").
//
// It exists because neither goccy/go-yaml nor encoding/json report the path
// of an unknown key, and because decoding YAML numbers into strings loses
// their text (version: 1.10 must stay "1.10"). It is shared by the manifest
// and schedule packages and is not meant for other callers.
package strict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/kanade-fleet/kanade/internal/wire"
)

// Kind is the shape of a Node.
type Kind int

// Node kinds.
const (
	Null Kind = iota
	Scalar
	Bool
	Map
	Seq
)

// Node is one value of a parsed document.
type Node struct {
	Kind Kind
	Text string // Scalar: the value's text exactly as written (numbers keep their digits)
	Bool bool   // Bool
	Map  []Pair // Map, in document order
	Seq  []*Node
	Line int // 1-based source line, 0 when unknown
}

// Pair is one key of a mapping.
type Pair struct {
	Key  string
	Val  *Node
	Line int
}

// MaxDocumentBytes bounds the input; manifests carry scripts inline, and the
// broker's default max payload is 1 MiB.
const MaxDocumentBytes = 1 << 20

// MaxYAMLTokens bounds the YAML tokens of one document (see parseYAML).
const MaxYAMLTokens = 4000

// maxDepth bounds nesting; no schema here is deeper than a handful of levels.
const maxDepth = 32

// maxNodes bounds the work spent on one document (aliases can multiply it).
const maxNodes = 100000

func fail(field, format string, a ...any) error {
	return &wire.FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// IsJSON reports whether data looks like a JSON object (first non-blank byte
// is '{'); a YAML flow mapping looks the same, so ParseDocuments falls back
// to YAML when it is not valid JSON.
func IsJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && t[0] == '{'
}

// ParseDocuments parses data as JSON (one object) or YAML (one or more
// documents separated by ---). Empty documents are dropped. Every error is a
// *wire.FieldError; syntax errors have an empty Field.
func ParseDocuments(data []byte) (docs []*Node, err error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // some editors write a BOM
	if len(data) > MaxDocumentBytes {
		return nil, fail("", "document is larger than %d bytes", MaxDocumentBytes)
	}
	if IsJSON(data) {
		n, jerr := parseJSON(data)
		if jerr == nil {
			return []*Node{n}, nil
		}
		var fe *wire.FieldError
		if errors.As(jerr, &fe) && fe.Field != "" {
			return nil, jerr // a duplicate key: the JSON was well-formed
		}
		if docs, yerr := parseYAML(data); yerr == nil {
			return docs, nil
		}
		return nil, jerr
	}
	return parseYAML(data)
}

func parseYAML(data []byte) (docs []*Node, err error) {
	// The YAML parser is third-party code fed untrusted bytes; a bug in it
	// must become a 422, not a crashed backend.
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, fail("", "malformed YAML: parser failure: %v", r)
		}
	}()
	// The lexer is linear but the parser is quadratic in the number of
	// tokens (a 1 MiB flat mapping or "[[[[…" holds a CPU for minutes), so
	// bound the tokens first. A block scalar — the script — is one token.
	tokens := lexer.Tokenize(string(data))
	if len(tokens) > MaxYAMLTokens {
		return nil, fail("", "malformed YAML: more than %d tokens; a manifest or schedule is far smaller", MaxYAMLTokens)
	}
	// Duplicates are detected in conv.pair, which can name the field path.
	f, perr := parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
	if perr != nil {
		return nil, fail("", "malformed YAML: %s", yamlErrText(perr))
	}
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		c := &conv{anchors: map[string]*Node{}}
		n, cerr := c.node(d.Body, "", 0)
		if cerr != nil {
			return nil, cerr
		}
		if n.Kind == Null {
			continue
		}
		docs = append(docs, n)
	}
	return docs, nil
}

func yamlErrText(err error) string {
	var ye interface {
		GetMessage() string
		GetToken() *token.Token
	}
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return fmt.Sprintf("line %d column %d: %s", tk.Position.Line, tk.Position.Column, ye.GetMessage())
		}
		return ye.GetMessage()
	}
	return err.Error()
}

type conv struct {
	anchors map[string]*Node
	count   int
}

func line(tk *token.Token) int {
	if tk == nil || tk.Position == nil {
		return 0
	}
	return tk.Position.Line
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (c *conv) node(n ast.Node, path string, depth int) (*Node, error) {
	c.count++
	if c.count > maxNodes {
		return nil, fail("", "document has more than %d values", maxNodes)
	}
	if depth > maxDepth {
		return nil, fail("", "nesting is deeper than %d levels", maxDepth)
	}
	switch v := n.(type) {
	case nil:
		return &Node{Kind: Null}, nil
	case *ast.NullNode:
		return &Node{Kind: Null, Line: line(v.Token)}, nil
	case *ast.BoolNode:
		return &Node{Kind: Bool, Bool: v.Value, Line: line(v.Token)}, nil
	case *ast.StringNode:
		return &Node{Kind: Scalar, Text: v.Value, Line: line(v.Token)}, nil
	case *ast.LiteralNode:
		if v.Value == nil {
			return &Node{Kind: Scalar, Line: line(v.Start)}, nil
		}
		return &Node{Kind: Scalar, Text: v.Value.Value, Line: line(v.Start)}, nil
	case *ast.IntegerNode:
		return &Node{Kind: Scalar, Text: v.Token.Value, Line: line(v.Token)}, nil
	case *ast.FloatNode:
		return &Node{Kind: Scalar, Text: v.Token.Value, Line: line(v.Token)}, nil
	case *ast.InfinityNode:
		return &Node{Kind: Scalar, Text: v.Token.Value, Line: line(v.Token)}, nil
	case *ast.NanNode:
		return &Node{Kind: Scalar, Text: v.Token.Value, Line: line(v.Token)}, nil
	case *ast.TagNode:
		inner, err := c.node(v.Value, path, depth+1)
		if err != nil {
			return nil, err
		}
		if v.Start != nil && (v.Start.Value == "!!str" || v.Start.Value == "!str") {
			switch inner.Kind {
			case Bool:
				inner = &Node{Kind: Scalar, Text: fmt.Sprint(inner.Bool), Line: inner.Line}
			case Null:
				inner = &Node{Kind: Scalar, Line: inner.Line}
			}
		}
		return inner, nil
	case *ast.AnchorNode:
		inner, err := c.node(v.Value, path, depth+1)
		if err != nil {
			return nil, err
		}
		if v.Name != nil {
			c.anchors[v.Name.GetToken().Value] = inner
		}
		return inner, nil
	case *ast.AliasNode:
		name := ""
		if v.Value != nil && v.Value.GetToken() != nil {
			name = v.Value.GetToken().Value
		}
		target, ok := c.anchors[name]
		if !ok {
			return nil, fail(path, "unknown alias *%s", name)
		}
		return target, nil
	case *ast.MappingNode:
		out := &Node{Kind: Map, Line: line(v.Start)}
		seen := map[string]bool{}
		for _, mv := range v.Values {
			if err := c.pair(out, seen, mv, path, depth); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *ast.MappingValueNode:
		out := &Node{Kind: Map, Line: line(v.Start)}
		if err := c.pair(out, map[string]bool{}, v, path, depth); err != nil {
			return nil, err
		}
		return out, nil
	case *ast.SequenceNode:
		out := &Node{Kind: Seq, Line: line(v.Start)}
		for i, e := range v.Values {
			en, err := c.node(e, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			out.Seq = append(out.Seq, en)
		}
		return out, nil
	case *ast.SequenceEntryNode:
		return c.node(v.Value, path, depth+1)
	case *ast.CommentGroupNode, *ast.CommentNode:
		return &Node{Kind: Null}, nil
	default:
		return nil, fail(path, "unsupported YAML construct %s", n.Type())
	}
}

func (c *conv) pair(out *Node, seen map[string]bool, mv *ast.MappingValueNode, path string, depth int) error {
	if mv == nil {
		return nil
	}
	if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
		return fail(path, "merge keys (<<) are not supported")
	}
	kn, err := c.node(mv.Key, path, depth+1)
	if err != nil {
		return err
	}
	if kn.Kind != Scalar {
		return fail(path, "mapping keys must be plain strings")
	}
	key := kn.Text
	if seen[key] {
		return fail(join(path, key), "duplicate key")
	}
	seen[key] = true
	val, err := c.node(mv.Value, join(path, key), depth+1)
	if err != nil {
		return err
	}
	out.Map = append(out.Map, Pair{Key: key, Val: val, Line: kn.Line})
	return nil
}

// parseJSON builds the tree from one JSON value, rejecting duplicate keys
// (encoding/json would silently keep the last one) and trailing data.
func parseJSON(data []byte) (*Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	lineAt := func() int { return 1 + bytes.Count(data[:dec.InputOffset()], []byte{'\n'}) }
	var walk func(path string, depth int) (*Node, error)
	count := 0
	walk = func(path string, depth int) (*Node, error) {
		count++
		if count > maxNodes {
			return nil, fail("", "document has more than %d values", maxNodes)
		}
		if depth > maxDepth {
			return nil, fail("", "nesting is deeper than %d levels", maxDepth)
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, fail("", "malformed JSON: %v", err)
		}
		ln := lineAt() // the offset is just past the token: its line

		switch t := tok.(type) {
		case nil:
			return &Node{Kind: Null, Line: ln}, nil
		case bool:
			return &Node{Kind: Bool, Bool: t, Line: ln}, nil
		case string:
			return &Node{Kind: Scalar, Text: t, Line: ln}, nil
		case json.Number:
			return &Node{Kind: Scalar, Text: t.String(), Line: ln}, nil
		case json.Delim:
			switch t {
			case '{':
				out := &Node{Kind: Map, Line: ln}
				seen := map[string]bool{}
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, fail("", "malformed JSON: %v", err)
					}
					kl := lineAt()
					key, _ := kt.(string)
					if seen[key] {
						return nil, fail(join(path, key), "duplicate key")
					}
					seen[key] = true
					val, err := walk(join(path, key), depth+1)
					if err != nil {
						return nil, err
					}
					out.Map = append(out.Map, Pair{Key: key, Val: val, Line: kl})
				}
				if _, err := dec.Token(); err != nil {
					return nil, fail("", "malformed JSON: %v", err)
				}
				return out, nil
			case '[':
				out := &Node{Kind: Seq, Line: ln}
				for i := 0; dec.More(); i++ {
					val, err := walk(fmt.Sprintf("%s[%d]", path, i), depth+1)
					if err != nil {
						return nil, err
					}
					out.Seq = append(out.Seq, val)
				}
				if _, err := dec.Token(); err != nil {
					return nil, fail("", "malformed JSON: %v", err)
				}
				return out, nil
			}
		}
		return nil, fail("", "malformed JSON: unexpected %v", tok)
	}
	n, err := walk("", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fail("", "malformed JSON: trailing data after the object")
	}
	return n, nil
}

// SplitYAML cuts a multi-document YAML stream into the source text of each
// non-empty document, comments kept, so a CLI can submit them one by one.
// A document marker is a line that is exactly "---" (optionally followed
// by a space and content) or "..." — the YAML rule, which holds even inside
// block scalars.
func SplitYAML(data []byte) [][]byte {
	var out [][]byte
	var cur []byte
	flush := func() {
		if len(bytes.TrimSpace(stripComments(cur))) > 0 {
			out = append(out, cur)
		}
		cur = nil
	}
	for _, ln := range bytes.SplitAfter(data, []byte{'\n'}) {
		s := strings.TrimRight(string(ln), "\r\n")
		if s == "---" || strings.HasPrefix(s, "--- ") || s == "..." {
			flush()
			if rest, ok := strings.CutPrefix(s, "--- "); ok {
				cur = append(cur, []byte(rest+"\n")...)
			}
			continue
		}
		cur = append(cur, ln...)
	}
	flush()
	return out
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, ln := range bytes.Split(b, []byte{'\n'}) {
		t := bytes.TrimSpace(ln)
		if len(t) > 0 && t[0] != '#' && !bytes.HasPrefix(t, []byte("%")) {
			out = append(out, t...)
		}
	}
	return out
}
