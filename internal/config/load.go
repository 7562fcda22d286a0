package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the YAML file at path, decodes it strictly (an unknown field is
// an error naming the field and its line), applies SetDefaults and runs
// Validate. Any error names the file; the problems in it are *FieldError
// values carrying their line where the file has one.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse is Load for a configuration already in memory.
func Parse(data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	empty := false
	switch err := dec.Decode(&c); {
	case errors.Is(err, io.EOF):
		// An empty document is an empty configuration; Validate will say
		// what is missing, after saying the file is empty.
		empty = true
	case err != nil:
		return nil, explain(data, err)
	default:
		if err := noSecondDocument(dec); err != nil {
			return nil, err
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err == nil {
			var bad problems
			wholeNumbers(&doc, reflect.TypeFor[Config](), "", &bad)
			if len(bad) > 0 {
				return nil, errors.Join(bad...)
			}
		}
	}
	if c.Identity.JWT == nil {
		// "jwt:" with nothing under it (its fields commented out) decodes
		// to no section at all, and the defaults would then take user keys
		// from the query string, unauthenticated: refuse it instead.
		if line, ok := indexLines(data).line["identity.jwt"]; ok {
			return nil, &FieldError{Path: "identity.jwt", Line: line,
				Msg: "empty: set exactly one of hs256_secret, hs256_secret_env, rs256_public_key_file, or remove the section"}
		}
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		if empty {
			return nil, errors.Join(append([]error{&FieldError{Msg: "empty configuration; required:"}}, flatten(err)...)...)
		}
		addLines(data, err)
		return nil, err
	}
	return &c, nil
}

// noSecondDocument reads the documents after the configuration: a second
// one would be silently ignored, so one with anything in it is refused.
// Empty ones are not: config tooling (helm, kustomize, yq) often leaves a
// "---" at the end of a file.
func noSecondDocument(dec *yaml.Decoder) error {
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if len(doc.Content) == 0 {
			continue
		}
		n := doc.Content[0]
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" {
			continue // nothing but blank lines or comments; "null" or "~" is written content
		}
		after := ""
		if doc.Line < n.Line {
			after = fmt.Sprintf(` after the "---" on line %d`, doc.Line)
		}
		return &FieldError{Line: n.Line, Msg: "a configuration is one YAML document, found a second one" + after + "; remove it or merge it into the first"}
	}
}

// lineIndex maps YAML paths ("backends.green.url", "rollout.steps[1]") to
// the line of their key or list item, and lines to the paths on them.
type lineIndex struct {
	line  map[string]int
	paths map[int][]string
	// scalar maps the paths whose value is a scalar to its node.
	scalar map[string]*yaml.Node
	// colls maps a line to the paths whose value is a list or mapping
	// starting on it ("" for the document's own), outermost first.
	colls map[int][]collPath
}

type collPath struct {
	path string
	kind yaml.Kind
}

func indexLines(data []byte) *lineIndex {
	ix := &lineIndex{line: map[string]int{}, paths: map[int][]string{}, colls: map[int][]collPath{}, scalar: map[string]*yaml.Node{}}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) > 0 {
		ix.walk(doc.Content[0], "")
	}
	return ix
}

func (ix *lineIndex) add(path string, line int) {
	ix.line[path] = line
	ix.paths[line] = append(ix.paths[line], path)
}

// walk does not follow aliases, so a self-referencing document cannot loop.
func (ix *lineIndex) walk(n *yaml.Node, at string) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		ix.colls[n.Line] = append(ix.colls[n.Line], collPath{at, n.Kind})
	}
	switch n.Kind {
	case yaml.ScalarNode:
		ix.scalar[at] = n
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if at != "" {
				p = at + "." + p
			}
			ix.add(p, n.Content[i].Line)
			ix.walk(n.Content[i+1], p)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := at + "[" + strconv.Itoa(i) + "]"
			ix.add(p, item.Line)
			ix.walk(item, p)
		}
	}
}

// lineOf returns the line of path, or of its nearest ancestor in the file
// (a missing field points at its section), or 0.
func (ix *lineIndex) lineOf(path string) int {
	for path != "" {
		if l, ok := ix.line[path]; ok {
			return l
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			return 0
		}
		path = path[:cut]
	}
	return 0
}

// addLines fills in the Line of every FieldError in err from the file.
func addLines(data []byte, err error) {
	ix := indexLines(data)
	for _, e := range flatten(err) {
		var fe *FieldError
		if errors.As(e, &fe) && fe.Line == 0 {
			fe.Line = ix.lineOf(fe.Path)
		}
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

var (
	typeErrLine  = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type`)
	// collInto is yaml.v3's error for a list or mapping given where the
	// field takes something else; the line is the collection's.
	collInto = regexp.MustCompile(`^cannot unmarshal !!(seq|map) into `)
	// scalarInto is its error for a scalar of the wrong type: its tag, its
	// value (cut after 7 characters when longer than 10) and the Go type.
	scalarInto = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
	// dupKey is its error for a key given twice in one mapping, on the
	// line of the second.
	dupKey = regexp.MustCompile(`^mapping key (".*") already defined at line \d+$`)
	// syntaxLine is the line of a yaml.v3 syntax error, absent on line 1.
	syntaxLine = regexp.MustCompile(`^yaml: line (\d+): `)
)

// explain turns yaml.v3's decoding errors ("line 5: field tokn not found in
// type config.Admin") into FieldErrors that name the YAML path and, for an
// unknown field, the fields that would have been accepted there.
func explain(data []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		// A syntax error; yaml.v3 gives the line (but on line 1), and for
		// a tab in the indentation only "found character that cannot
		// start any token".
		if line := tabIndented(data, err.Error()); line > 0 {
			return &FieldError{Line: line, Msg: "indented with a tab: YAML indents with spaces"}
		}
		return err
	}
	ix := indexLines(data)
	var out []error
	for _, msg := range te.Errors {
		m := typeErrLine.FindStringSubmatch(msg)
		if m == nil {
			out = append(out, &FieldError{Msg: msg})
			continue
		}
		line, _ := strconv.Atoi(m[1])
		fe := &FieldError{Line: line, Msg: m[2]}
		onLine := ix.paths[line]
		if u := unknownField.FindStringSubmatch(m[2]); u != nil {
			for _, p := range onLine {
				// A key of that name where it is known is not the one.
				known := slices.Contains(strings.Split(fieldsAt(p), ", "), u[1])
				if (p == u[1] || strings.HasSuffix(p, "."+u[1])) && !known {
					fe.Path = p
				}
			}
			fe.Msg = "unknown field"
			if known := fieldsAt(fe.Path); known != "" {
				fe.Msg += "; known here: " + known
			}
		} else if c := collInto.FindStringSubmatch(m[2]); c != nil {
			// The paths on the line are the collection's items or keys;
			// the field is the one whose value it is.
			kind := map[string]yaml.Kind{"seq": yaml.SequenceNode, "map": yaml.MappingNode}[c[1]]
			for _, cp := range ix.colls[line] {
				if cp.kind == kind {
					fe.Path = cp.path
				}
			}
		} else if d := dupKey.FindStringSubmatch(m[2]); d != nil {
			// The paths on the line are the key's and those of the fields
			// in its value; the key is the one the message names.
			key, _ := strconv.Unquote(d[1])
			for _, p := range onLine {
				if p == key || strings.HasSuffix(p, "."+key) {
					fe.Path = p
					break
				}
			}
		} else {
			s := scalarInto.FindStringSubmatch(m[2])
			fe.Path = innermost(onLine)
			if fe.Path == "" && s != nil {
				// Siblings on one line (a flow mapping): the field is
				// the one holding the value the message quotes.
				fe.Path = scalarOn(ix, onLine, line, "!!"+s[1], s[2])
			}
			if s != nil && fe.Path != "" {
				if want := wantType(s[3]); want != "" {
					tag, value := "!!"+s[1], s[2]
					if n := ix.scalar[fe.Path]; n != nil && n.Line == line {
						tag, value = n.ShortTag(), n.Value // uncut
					}
					if tag == "!!str" {
						value = strconv.Quote(value)
					}
					fe.Msg = "want " + want + ", got " + value
				}
			}
		}
		if strings.Contains(fe.Msg, "into time.Duration") {
			fe.Msg += ` (durations are strings like "500ms" or "30s")`
		}
		out = append(out, fe)
	}
	return errors.Join(out...)
}

// scalarOn returns the one path among paths whose value is a scalar on
// line with tag and value as a yaml.v3 type error quotes them (a value
// longer than 10 characters cut to its first 7 and "..."), or "" when
// none or several are.
func scalarOn(ix *lineIndex, paths []string, line int, tag, value string) string {
	found := ""
	for _, p := range paths {
		n := ix.scalar[p]
		if n == nil || n.Line != line || n.ShortTag() != tag {
			continue
		}
		if n.Value != value && (len(n.Value) <= 10 || value != n.Value[:7]+"...") {
			continue
		}
		if found != "" {
			return ""
		}
		found = p
	}
	return found
}

// wantType says what a field of Go type typ (as yaml.v3 names it) takes,
// or "" for a type it does not know.
func wantType(typ string) string {
	switch {
	case typ == "time.Duration":
		return `a duration such as "500ms" or "30s"`
	case strings.HasPrefix(typ, "[]"):
		return "a list"
	case strings.HasPrefix(typ, "float"):
		return "a number"
	case strings.HasPrefix(typ, "int"), strings.HasPrefix(typ, "uint"):
		return "a whole number"
	case typ == "bool":
		return "true or false"
	}
	return ""
}

// tabIndented returns the line of a tab in the indentation that the
// syntax error msg is about, or 0: yaml.v3 points at that line, or (when
// the tab breaks a mapping's indentation) the line before it.
func tabIndented(data []byte, msg string) int {
	if !strings.Contains(msg, "cannot start any token") && !strings.Contains(msg, "tab character") {
		return 0
	}
	line := 1
	if m := syntaxLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	lines := strings.Split(string(data), "\n")
	for l := line; l <= line+1 && l <= len(lines); l++ {
		text := lines[l-1]
		indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]
		if strings.Contains(indent, "\t") {
			return l
		}
	}
	return 0
}

// innermost returns the deepest of the paths found on one line when they
// nest ("handover", "handover.timeout" from `handover: {timeout: 30}`), and
// "" when they are siblings and the line alone cannot tell which is meant.
func innermost(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	last := paths[len(paths)-1]
	for _, p := range paths[:len(paths)-1] {
		if !strings.HasPrefix(last, p+".") && !strings.HasPrefix(last, p+"[") {
			return ""
		}
	}
	return last
}

// fieldsAt lists the YAML names accepted next to path (its siblings), found by
// following the path through Config's types.
func fieldsAt(path string) string {
	if path == "" {
		return ""
	}
	cut := strings.LastIndexByte(path, '.')
	t := reflect.TypeFor[Config]()
	if cut >= 0 {
		for part := range strings.SplitSeq(path[:cut], ".") {
			name, _, _ := strings.Cut(part, "[")
			f, ok := fieldByTag(t, name)
			if !ok {
				return ""
			}
			t = f.Type
			for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
				t = t.Elem()
			}
			if t.Kind() != reflect.Struct {
				return ""
			}
		}
	}
	var names []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// wholeNumbers refuses a fraction given for an integer field, a value of
// the wrong type: yaml.v3 truncates it (0.5 becomes 0, which then takes
// the default). A whole number written as a float (1e6) is accepted, as
// yaml.v3 reads it. n is decoded into t at path at; aliases and merge
// keys are followed (the document has decoded, so they do not loop).
func wholeNumbers(n *yaml.Node, t reflect.Type, at string, p *problems) {
	line := n.Line
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			wholeNumbers(c, t, at, p)
		}
	case yaml.MappingNode:
		if t.Kind() != reflect.Struct {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" {
				if v.Kind == yaml.SequenceNode {
					for _, m := range v.Content {
						wholeNumbers(m, t, at, p)
					}
				} else {
					wholeNumbers(v, t, at, p)
				}
				continue
			}
			if f, ok := fieldByTag(t, k.Value); ok {
				path := k.Value
				if at != "" {
					path = at + "." + path
				}
				wholeNumbers(v, f.Type, path, p)
			}
		}
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			return
		}
		for i, c := range n.Content {
			wholeNumbers(c, t.Elem(), at+"["+strconv.Itoa(i)+"]", p)
		}
	case yaml.ScalarNode:
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		default:
			return
		}
		var f float64
		if n.ShortTag() == "!!float" && n.Decode(&f) == nil && f != math.Trunc(f) {
			*p = append(*p, &FieldError{Line: line, Path: at, Msg: "must be a whole number, got " + n.Value})
		}
	}
}
