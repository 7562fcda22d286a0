package testenv_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/testenv"
)

// TestPackageDocs fails for every package under cmd/ and internal/ whose
// non-test files carry no package doc comment (as tailscale's pkgdoc_test
// does). Directories holding only tests or data are not packages here.
func TestPackageDocs(t *testing.T) {
	root := testenv.RepoRoot()
	checked := 0
	for _, top := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(dir string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				return nil
			}
			if name := d.Name(); dir != filepath.Join(root, top) && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir // the go tool ignores these too
			}
			has, documented, err := packageDoc(dir)
			if err != nil {
				return err
			}
			if has {
				checked++
				if !documented {
					rel, _ := filepath.Rel(root, dir)
					t.Errorf("package %s has no package doc comment", rel)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked == 0 {
		t.Fatalf("no packages found under %s", root)
	}
}

// packageDoc reports whether dir holds a Go package (non-test .go files) and
// whether one of its files has a package doc comment.
func packageDoc(dir string) (has, documented bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, false, err
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return false, false, err
		}
		has = true
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			return true, true, nil
		}
	}
	return has, false, nil
}
