package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// yamlPaths lists the YAML path of every field under t, as docs/config.md
// writes them: nested fields joined by ".", list elements as "[]". The two
// backends share one type and are documented once as backends.<color>.
func yamlPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		p := prefix + name
		if prefix == "backends." {
			if name != "blue" {
				continue
			}
			p = "backends.<color>"
		}
		out = append(out, p)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			out = append(out, yamlPaths(ft.Elem(), p+"[].")...)
		} else if ft.Kind() == reflect.Struct && ft.PkgPath() == t.PkgPath() {
			out = append(out, yamlPaths(ft, p+".")...)
		}
	}
	return out
}

// Every field must be documented under its full path, in backquotes, in
// docs/config.md; and every path the document names must exist.
func TestDocsCoverEveryField(t *testing.T) {
	raw, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	paths := yamlPaths(reflect.TypeFor[Config](), "")
	if len(paths) < 60 {
		t.Fatalf("only %d paths found; the walk is broken", len(paths))
	}
	known := make(map[string]bool)
	for _, p := range paths {
		known[p] = true
		if !strings.Contains(doc, "`"+p+"`") {
			t.Errorf("docs/config.md does not document `%s`", p)
		}
	}
	// The reference tables start each row with "| `path`".
	for _, line := range strings.Split(doc, "\n") {
		rest, ok := strings.CutPrefix(line, "| `")
		if !ok {
			continue
		}
		p, _, _ := strings.Cut(rest, "`")
		if !known[p] {
			t.Errorf("docs/config.md documents `%s`, which is not a field", p)
		}
	}
}
