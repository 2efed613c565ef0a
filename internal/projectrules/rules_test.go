package projectrules

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/shelf-efs/shelf"

// goFile is one parsed Go file of the tree.
type goFile struct {
	pkgDir string // module-relative directory, slash-separated ("internal/fs")
	name   string // base name
	test   bool   // a _test.go file
	ast    *ast.File
}

func (f goFile) String() string { return path.Join(f.pkgDir, f.name) }

// imports returns the import paths of f.
func (f goFile) imports() []string {
	var out []string
	for _, im := range f.ast.Imports {
		p, err := strconv.Unquote(im.Path.Value)
		if err == nil {
			out = append(out, p)
		}
	}
	return out
}

// importName returns the name under which f imports path p ("" if it does
// not import it).
func (f goFile) importName(p string) string {
	for _, im := range f.ast.Imports {
		if q, _ := strconv.Unquote(im.Path.Value); q == p {
			if im.Name != nil {
				return im.Name.Name
			}
			return path.Base(p)
		}
	}
	return ""
}

// moduleRoot finds the directory holding go.mod, from the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// parseTree parses every Go file under internal/, cmd/ and test/, skipping
// testdata and hidden directories.
func parseTree(t *testing.T) []goFile {
	t.Helper()
	root := moduleRoot(t)
	fset := token.NewFileSet()
	var files []goFile
	for _, top := range []string{"internal", "cmd", "test"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) && p == filepath.Join(root, top) {
					return filepath.SkipDir
				}
				return err
			}
			name := d.Name()
			if d.IsDir() {
				if name == "testdata" || (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) && p != filepath.Join(root, top) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(name, ".go") {
				return nil
			}
			f, err := parser.ParseFile(fset, p, nil, parser.ParseComments|parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, filepath.Dir(p))
			if err != nil {
				return err
			}
			files = append(files, goFile{
				pkgDir: filepath.ToSlash(rel),
				name:   name,
				test:   strings.HasSuffix(name, "_test.go"),
				ast:    f,
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) == 0 {
		t.Fatal("no Go files found")
	}
	return files
}

// report fails t with every violation, sorted, one per line.
func report(t *testing.T, rule string, violations []string) {
	t.Helper()
	if len(violations) == 0 {
		return
	}
	sort.Strings(violations)
	t.Errorf("%s:\n\t%s", rule, strings.Join(violations, "\n\t"))
}

func under(dir, prefix string) bool {
	return dir == prefix || strings.HasPrefix(dir, prefix+"/")
}

// TestPackageDocs: every package under internal/ and cmd/ has a doc comment
// that starts "Package <name> " or, for commands, "Command <dir> ".
func TestPackageDocs(t *testing.T) {
	type pkg struct {
		name string
		docs []string // doc comments of non-test files
		code bool     // has non-test files
	}
	pkgs := map[string]*pkg{}
	for _, f := range parseTree(t) {
		if f.test || !(under(f.pkgDir, "internal") || under(f.pkgDir, "cmd")) {
			continue
		}
		p := pkgs[f.pkgDir]
		if p == nil {
			p = &pkg{name: f.ast.Name.Name}
			pkgs[f.pkgDir] = p
		}
		p.code = true
		if f.ast.Doc != nil {
			p.docs = append(p.docs, f.ast.Doc.Text())
		}
	}
	var violations []string
	for dir, p := range pkgs {
		want := "Package " + p.name + " "
		if p.name == "main" {
			want = "Command " + path.Base(dir) + " "
		}
		switch {
		case len(p.docs) == 0:
			violations = append(violations, dir+": no package doc comment (want one starting "+strconv.Quote(want)+")")
		case len(p.docs) > 1:
			violations = append(violations, dir+": package doc comment in more than one file")
		case !strings.HasPrefix(p.docs[0], want):
			violations = append(violations, dir+": package doc comment must start "+strconv.Quote(want))
		}
	}
	report(t, "every package documents itself", violations)
}

// enginePattern matches the import paths of storage engines: a technology
// plus the role, under the port they implement (pebblemeta, sqlmeta,
// diskblob, s3blob, memblob).
var enginePattern = regexp.MustCompile(`^` + regexp.QuoteMeta(module) + `/internal/(meta/[a-z0-9]+meta|blob/[a-z0-9]+blob)(/|$)`)

// TestOnlyServerImportsEngines: the rest of shelf sees only the ports.
func TestOnlyServerImportsEngines(t *testing.T) {
	var violations []string
	for _, f := range parseTree(t) {
		if f.test || under(f.pkgDir, "internal/server") {
			continue
		}
		for _, imp := range f.imports() {
			m := enginePattern.FindStringSubmatch(imp)
			if m == nil || under(f.pkgDir, "internal/"+m[1]) {
				continue
			}
			violations = append(violations, f.String()+" imports engine "+imp)
		}
	}
	report(t, "only internal/server imports storage engines", violations)
}

// TestServerIsTheTop: internal packages do not reach up to the composition
// root.
func TestServerIsTheTop(t *testing.T) {
	var violations []string
	for _, f := range parseTree(t) {
		if f.test || under(f.pkgDir, "cmd") || under(f.pkgDir, "test") || under(f.pkgDir, "internal/server") {
			continue
		}
		for _, imp := range f.imports() {
			if under(imp, module+"/internal/server") {
				violations = append(violations, f.String()+" imports "+imp)
			}
		}
	}
	report(t, "only cmd/ and test/ import internal/server", violations)
}

// cipherPackages are the packages that encrypt; keys and sealing live in
// internal/kms and internal/data only.
var cipherPackages = map[string]bool{
	"crypto/aes":                           true,
	"crypto/cipher":                        true,
	"crypto/des":                           true,
	"crypto/rc4":                           true,
	"golang.org/x/crypto/chacha20poly1305": true,
	"golang.org/x/crypto/xts":              true,
}

var cryptoOwners = []string{"internal/kms", "internal/data"}

func ownsCrypto(dir string) bool {
	for _, o := range cryptoOwners {
		if under(dir, o) {
			return true
		}
	}
	return false
}

// TestCryptoOnlyInKMSAndData: encryption is written in two places, and
// their randomness comes from crypto/rand.
func TestCryptoOnlyInKMSAndData(t *testing.T) {
	var violations []string
	for _, f := range parseTree(t) {
		if f.test {
			continue
		}
		for _, imp := range f.imports() {
			switch {
			case cipherPackages[imp] && !ownsCrypto(f.pkgDir):
				violations = append(violations, f.String()+" imports "+imp+" (only internal/kms and internal/data may)")
			case (imp == "math/rand" || imp == "math/rand/v2") && ownsCrypto(f.pkgDir):
				violations = append(violations, f.String()+" imports "+imp+" (use crypto/rand)")
			}
		}
	}
	report(t, "crypto only in internal/kms and internal/data", violations)
}

// TestProcessGlobalsOnlyInMain: only main sets the default logger and reads
// the environment; everything else gets a logger and typed configuration
// through its constructor.
func TestProcessGlobalsOnlyInMain(t *testing.T) {
	forbidden := map[string]map[string]string{
		"log/slog": {"SetDefault": "sets the default logger"},
		"log":      {"SetOutput": "redirects the standard logger", "SetFlags": "changes the standard logger"},
		"os":       {"Getenv": "reads the environment", "LookupEnv": "reads the environment", "Environ": "reads the environment"},
	}
	var violations []string
	for _, f := range parseTree(t) {
		if f.test || f.ast.Name.Name == "main" {
			continue
		}
		names := map[string]map[string]string{} // local import name -> funcs
		for p, funcs := range forbidden {
			if n := f.importName(p); n != "" && n != "_" {
				names[n] = funcs
			}
		}
		if len(names) == 0 {
			continue
		}
		ast.Inspect(f.ast, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			if what, ok := names[x.Name][sel.Sel.Name]; ok {
				violations = append(violations, f.String()+": "+x.Name+"."+sel.Sel.Name+" "+what)
			}
			return true
		})
	}
	report(t, "only package main touches process globals", violations)
}

// TestRulesSeeTheTree guards the rules themselves: the walk finds the
// packages the rules are about, so a broken walk cannot pass silently.
func TestRulesSeeTheTree(t *testing.T) {
	dirs := map[string]bool{}
	for _, f := range parseTree(t) {
		dirs[f.pkgDir] = true
	}
	for _, want := range []string{"internal/server", "internal/meta", "internal/blob", "internal/kms", "cmd/shelfd", "internal/projectrules"} {
		if !dirs[want] {
			t.Errorf("walk did not find %s", want)
		}
	}
	for _, imp := range []string{module + "/internal/meta/pebblemeta", module + "/internal/blob/diskblob", module + "/internal/meta/sqlmeta", module + "/internal/blob/s3blob", module + "/internal/blob/memblob/sub"} {
		if !enginePattern.MatchString(imp) {
			t.Errorf("%s is not recognised as an engine", imp)
		}
	}
	for _, imp := range []string{module + "/internal/meta", module + "/internal/blob", module + "/internal/blob/blobtest", module + "/internal/meta/metatest"} {
		if enginePattern.MatchString(imp) {
			t.Errorf("%s is taken for an engine", imp)
		}
	}
}
