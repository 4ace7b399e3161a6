package configs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// declaredOptions maps the Go name of every option declared in this package to its key, read
// from the source: `Name = Ctor("key", ...)...`.
func declaredOptions(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 || !vs.Names[0].IsExported() {
				return true
			}
			if key, ok := constructorKey(vs.Values[0]); ok {
				out[vs.Names[0].Name] = key
			}
			return true
		})
	}
	return out
}

// constructorKey finds the innermost constructor call of an option declaration (below chained
// method calls) and returns its first argument, the key.
func constructorKey(e ast.Expr) (string, bool) {
	for {
		call, ok := e.(*ast.CallExpr)
		if !ok {
			return "", false
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
			e = sel.X // a chained method: .WithDeprecatedKeys(...), .Check(...)
			continue
		}
		if len(call.Args) == 0 {
			return "", false
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		key, err := strconv.Unquote(lit.Value)
		if err != nil {
			return "", false
		}
		spec, _, found := LookupSpec(key)
		return key, found && spec.Key == key
	}
}

// moduleSource returns the non-test Go source of the module outside this package.
func moduleSource(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch filepath.Clean(path) {
			case filepath.Join("..", ".git"), filepath.Join("..", "configs"), filepath.Join("..", "testing", "hadoop", "work"):
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b.Write(data)
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestEveryOptionHasAnEffect: every option is read by the code outside this package (by its Go
// name or its key), or says why it has no effect (WithoutEffect) — so that no Flink key is
// silently accepted and ignored. An option marked WithoutEffect must not be read anywhere (the
// mark would be stale).
func TestEveryOptionHasAnEffect(t *testing.T) {
	decls := declaredOptions(t)
	if len(decls) < 100 {
		t.Fatalf("found only %d option declarations: the source scan is broken", len(decls))
	}
	src := moduleSource(t)
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bconfigs\.([A-Z]\w*)`).FindAllStringSubmatch(src, -1) {
		used[m[1]] = true
	}
	// An option read through another option's fallback (rest.address -> jobmanager.rpc.address)
	// has an effect too.
	viaFallback := map[string]bool{}
	for name, key := range decls {
		if spec, _, _ := LookupSpec(key); used[name] || strings.Contains(src, strconv.Quote(key)) {
			for _, k := range spec.FallbackKeys {
				viaFallback[k] = true
			}
		}
	}
	var unread, stale []string
	for name, key := range decls {
		spec, _, _ := LookupSpec(key)
		read := used[name] || strings.Contains(src, strconv.Quote(key)) || viaFallback[key]
		switch {
		case !read && spec.NoEffect == "":
			unread = append(unread, name+" ("+key+")")
		case read && spec.NoEffect != "":
			stale = append(stale, name+" ("+key+")")
		}
	}
	sort.Strings(unread)
	sort.Strings(stale)
	if len(unread) > 0 {
		t.Errorf("options that nothing outside configs reads: give them an effect, or mark them WithoutEffect(reason):\n  %s", strings.Join(unread, "\n  "))
	}
	if len(stale) > 0 {
		t.Errorf("options marked WithoutEffect that the code reads: drop the mark:\n  %s", strings.Join(stale, "\n  "))
	}
}
