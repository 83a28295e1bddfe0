// Command gen writes web/src/lib/api.gen.ts from the API contract
// (internal/apiv1): a TypeScript type per contract type and one function per
// endpoint of apiv1.Endpoints, built on a transport the dashboard injects.
//
// Types and the endpoint table are read by reflection, so what is generated
// is what the Go code encodes; the enum values and the doc comments, which
// reflection cannot see, are read from apiv1's source with go/ast.
//
// Run it with `go generate ./internal/apiv1/...`; TestTSCurrent fails when
// the committed file is stale.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

func main() {
	src := flag.String("src", ".", "the apiv1 source directory (for enum values and comments)")
	out := flag.String("out", "../../web/src/lib/api.gen.ts", "the file to write")
	flag.Parse()
	b, err := Render(*src)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		log.Fatal(err)
	}
}

var (
	timeT   = reflect.TypeOf(time.Time{})
	rawT    = reflect.TypeOf(json.RawMessage{})
	sourceT = reflect.TypeOf(apiv1.Source{})
	binaryT = reflect.TypeOf(apiv1.Binary{})
	apiPkg  = reflect.TypeOf(apiv1.Agent{}).PkgPath()
)

// custom is the TypeScript of contract types with their own JSON encoding.
var custom = map[string]string{
	"PerPC": `"once" | { every: string }`,
}

// source is what go/ast tells about apiv1: the constants of each named
// string type, and doc comments of types and fields.
type source struct {
	enums     map[string][]string
	typeDocs  map[string]string
	fieldDocs map[string]string // "Type.Field" → comment
}

func readSource(dir string) (*source, error) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", dir, err)
	}
	pkg := pkgs["apiv1"]
	if pkg == nil {
		return nil, fmt.Errorf("no package apiv1 in %s", dir)
	}
	s := &source{enums: map[string][]string{}, typeDocs: map[string]string{}, fieldDocs: map[string]string{}}
	names := make([]string, 0, len(pkg.Files))
	for name := range pkg.Files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, decl := range pkg.Files[name].Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				switch sp := spec.(type) {
				case *ast.ValueSpec:
					id, ok := sp.Type.(*ast.Ident)
					if gd.Tok != token.CONST || !ok {
						continue
					}
					for _, v := range sp.Values {
						if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
							val, _ := strconv.Unquote(lit.Value)
							s.enums[id.Name] = append(s.enums[id.Name], val)
						}
					}
				case *ast.TypeSpec:
					doc := sp.Doc
					if doc == nil && len(gd.Specs) == 1 {
						doc = gd.Doc
					}
					s.typeDocs[sp.Name.Name] = text(doc)
					st, ok := sp.Type.(*ast.StructType)
					if !ok {
						continue
					}
					for _, f := range st.Fields.List {
						c := text(f.Doc)
						if c == "" {
							c = text(f.Comment)
						}
						for _, n := range f.Names {
							s.fieldDocs[sp.Name.Name+"."+n.Name] = c
						}
					}
				}
			}
		}
	}
	return s, nil
}

func text(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	return strings.TrimSpace(cg.Text())
}

// gen accumulates the named types to declare.
type gen struct {
	src   *source
	named map[string]reflect.Type
	err   error
}

// ts is the TypeScript of t; named contract types are recorded for
// declaration and referred to by name.
func (g *gen) ts(t reflect.Type) string {
	switch {
	case t == timeT:
		return "Time"
	case t == rawT:
		return "unknown"
	}
	if t.PkgPath() == apiPkg && t.Name() != "" {
		if _, ok := g.named[t.Name()]; !ok {
			g.named[t.Name()] = t
			if t.Kind() == reflect.Struct {
				g.fields(t) // reach the types it uses
			}
		}
		return t.Name()
	}
	return g.shape(t)
}

// shape is the TypeScript of an unnamed type (or a named type's body).
func (g *gen) shape(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Pointer:
		return g.ts(t.Elem()) + " | null"
	case reflect.Slice:
		// A nil Go slice encodes as null.
		return paren(g.ts(t.Elem())) + "[] | null"
	case reflect.Map:
		return "Record<string, " + g.ts(t.Elem()) + "> | null"
	case reflect.Interface:
		return "unknown"
	}
	if g.err == nil {
		g.err = fmt.Errorf("no TypeScript for %s", t)
	}
	return "never"
}

func paren(s string) string {
	if strings.ContainsAny(s, " |") {
		return "(" + s + ")"
	}
	return s
}

// field is one JSON member of a struct.
type field struct {
	name, ts, doc string
	optional      bool
}

// fields lists t's own JSON members; embedded structs are returned as
// bases (TypeScript extends).
func (g *gen) fields(t reflect.Type) (bases []string, out []field) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			bases = append(bases, g.ts(f.Type))
			continue
		}
		if !f.IsExported() {
			continue
		}
		doc := g.src.fieldDocs[t.Name()+"."+f.Name]
		if q, ok := f.Tag.Lookup("query"); ok {
			out = append(out, field{name: q, ts: g.ts(f.Type), doc: doc, optional: true})
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		ft := f.Type
		omit := slices.Contains(strings.Split(opts, ","), "omitempty")
		tsType := g.ts(ft)
		if omit && (ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map) {
			// Omitted when nil, so never null.
			tsType = strings.TrimSuffix(tsType, " | null")
		}
		out = append(out, field{name: name, ts: tsType, doc: doc, optional: omit})
	}
	return bases, out
}

func jsdoc(b *bytes.Buffer, indent, doc string) {
	if doc == "" {
		return
	}
	lines := strings.Split(doc, "\n")
	if len(lines) == 1 {
		fmt.Fprintf(b, "%s/** %s */\n", indent, lines[0])
		return
	}
	fmt.Fprintf(b, "%s/**\n", indent)
	for _, l := range lines {
		fmt.Fprintf(b, "%s * %s\n", indent, strings.TrimRight(l, " "))
	}
	fmt.Fprintf(b, "%s */\n", indent)
}

func (g *gen) decl(b *bytes.Buffer, name string, t reflect.Type) {
	jsdoc(b, "", g.src.typeDocs[name])
	if c, ok := custom[name]; ok {
		fmt.Fprintf(b, "export type %s = %s\n\n", name, c)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		bases, fs := g.fields(t)
		ext := ""
		if len(bases) > 0 {
			ext = " extends " + strings.Join(bases, ", ")
		}
		fmt.Fprintf(b, "export interface %s%s {\n", name, ext)
		for _, f := range fs {
			jsdoc(b, "  ", f.doc)
			opt := ""
			if f.optional {
				opt = "?"
			}
			fmt.Fprintf(b, "  %s%s: %s\n", f.name, opt, f.ts)
		}
		fmt.Fprintf(b, "}\n\n")
	case reflect.String:
		vals := g.src.enums[name]
		if len(vals) == 0 {
			if g.err == nil {
				g.err = fmt.Errorf("string type %s has no constants", name)
			}
			return
		}
		q := make([]string, len(vals))
		for i, v := range vals {
			q[i] = strconv.Quote(v)
		}
		fmt.Fprintf(b, "export type %s = %s\n\n", name, strings.Join(q, " | "))
	default:
		// A named map or slice is a body or an answer of its own: the
		// value, not null.
		fmt.Fprintf(b, "export type %s = %s\n\n", name, strings.TrimSuffix(g.shape(t), " | null"))
	}
}

func lowerFirst(s string) string {
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// camel turns a path parameter (pc_id) into an argument name (pcId).
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

func (g *gen) endpoint(b *bytes.Buffer, e apiv1.Endpoint) {
	var args []string
	var path strings.Builder
	rest := e.Path
	for {
		i := strings.Index(rest, "{")
		if i < 0 {
			path.WriteString(rest)
			break
		}
		j := strings.Index(rest, "}")
		p := camel(rest[i+1 : j])
		args = append(args, p+": string")
		path.WriteString(rest[:i] + "${encodeURIComponent(" + p + ")}")
		rest = rest[j+1:]
	}
	req := []string{"method: '" + e.Method + "'", "path: `" + path.String() + "`"}
	if e.Query != nil {
		args = append(args, "query: "+g.ts(reflect.TypeOf(e.Query))+" = {}")
		req = append(req, "query: { ...query }")
	}
	if e.Body != nil {
		bt := reflect.TypeOf(e.Body)
		switch bt {
		case sourceT:
			args = append(args, "text: string")
			req = append(req, "text")
		case binaryT:
			args = append(args, "file: Blob")
			req = append(req, "binary: file")
		default:
			args = append(args, "body: "+g.ts(bt))
			req = append(req, "body")
		}
	}
	if e.List {
		req = append(req, "list: true")
	}
	if e.Text {
		req = append(req, "raw: true")
	}
	if len(e.AlsoOK) > 0 {
		codes := make([]string, len(e.AlsoOK))
		for i, c := range e.AlsoOK {
			codes[i] = strconv.Itoa(c)
		}
		req = append(req, "alsoOK: ["+strings.Join(codes, ", ")+"]")
	}
	args = append(args, "opts: CallOptions = {}")
	req = append(req, "signal: opts.signal")
	resp := "void"
	switch {
	case e.Text:
		resp = "string"
	case e.Resp == nil:
	case e.List:
		resp = "List<" + g.ts(reflect.TypeOf(e.Resp)) + ">"
	default:
		resp = g.ts(reflect.TypeOf(e.Resp))
	}
	fmt.Fprintf(b, "    /** %s %s: %s */\n", e.Method, e.Path, e.Doc)
	fmt.Fprintf(b, "    %s: (%s): Promise<%s> =>\n", lowerFirst(e.Name), strings.Join(args, ", "), resp)
	fmt.Fprintf(b, "      t({ %s }) as Promise<%s>,\n", strings.Join(req, ", "), resp)
}

const header = `// Code generated by go generate ./internal/apiv1/...; DO NOT EDIT.
// Source: internal/apiv1 (the /api contract). TestTSCurrent fails when this
// file is stale.

/** An RFC 3339 time (UTC). */
export type Time = string

/**
 * One page of a list endpoint: the total that matched before paging
 * (X-Total-Count; estimated is X-Total-Count-Estimated: show "about N")
 * and the cursor of the next page (X-Next-Cursor; '' on the last page),
 * to pass back as the query's cursor with the same filters.
 */
export interface List<T> {
  items: T[]
  total: number
  estimated: boolean
  next: string
}

/** Per-call options. */
export interface CallOptions {
  /** Aborts the request (react-query passes one to every queryFn). */
  signal?: AbortSignal
}

/**
 * One request of the API, as a generated function describes it to the
 * transport. The transport sends it (adding the bearer token), throws on a
 * non-2xx status not listed in alsoOK (the body is an ErrorBody), and
 * resolves to: undefined for 204, List<T> when list is set (the JSON array
 * as items, X-Total-Count as total, X-Total-Count-Estimated as estimated,
 * X-Next-Cursor as next), the body as a string when raw is set,
 * else the decoded JSON.
 */
export interface ApiRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** The path with its parameters substituted and escaped. */
  path: string
  /** Query parameters; undefined, null, '' and 0 values are left out (the server's default applies); an array repeats its parameter. */
  query?: Record<string, string | number | boolean | string[] | null | undefined>
  /** A JSON body. */
  body?: unknown
  /** A text body (a manifest or schedule, YAML or JSON), sent as application/yaml. */
  text?: string
  /** A raw body (an agent release binary), sent as application/octet-stream. */
  binary?: Blob
  list?: boolean
  /** The answer is text (script output), not JSON. */
  raw?: boolean
  alsoOK?: number[]
  signal?: AbortSignal
}

/** Sends an ApiRequest; injected by the dashboard (see lib/api.ts). */
export type Transport = (req: ApiRequest) => Promise<unknown>

`

// Render returns the generated TypeScript.
func Render(srcDir string) ([]byte, error) {
	src, err := readSource(srcDir)
	if err != nil {
		return nil, err
	}
	g := &gen{src: src, named: map[string]reflect.Type{}}
	var fns bytes.Buffer
	fmt.Fprintf(&fns, "/**\n * The API's endpoints over a transport, one function per route:\n *\n")
	fmt.Fprintf(&fns, " *   const api = createApi(transport)\n")
	fmt.Fprintf(&fns, " *   useQuery({ queryKey: ['agents', q], queryFn: ({ signal }) => api.listAgents(q, { signal }) })\n */\n")
	fmt.Fprintf(&fns, "export function createApi(t: Transport) {\n  return {\n")
	for _, e := range apiv1.Endpoints {
		if e.Binary {
			continue // a file download: the browser fetches it by URL
		}
		g.endpoint(&fns, e)
	}
	fmt.Fprintf(&fns, "  }\n}\n\n/** The generated client's type. */\nexport type Api = ReturnType<typeof createApi>\n")
	g.ts(reflect.TypeOf(apiv1.ErrorBody{}))
	// Declaring a type can reach more types: declare until none is new,
	// then write them sorted by name so the file does not depend on the
	// order they were reached in.
	decls := map[string][]byte{}
	for len(decls) < len(g.named) {
		for n, t := range g.named {
			if decls[n] == nil {
				var d bytes.Buffer
				g.decl(&d, n, t)
				decls[n] = d.Bytes()
			}
		}
	}
	var out bytes.Buffer
	out.WriteString(header)
	for _, n := range slices.Sorted(maps.Keys(decls)) {
		out.Write(decls[n])
	}
	out.Write(fns.Bytes())
	if g.err != nil {
		return nil, g.err
	}
	return out.Bytes(), nil
}
