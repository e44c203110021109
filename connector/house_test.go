package connector_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// publicPackages are the packages other modules may import, each for a reason (docs: the
// "Public surface" section of connector/doc.go). A new one must be added here deliberately.
var publicPackages = map[string]string{
	"cmd/partoo-bench":        "a command",
	"cmd/partoo-connector":    "a command",
	"cmd/partoo-sim":          "a command",
	"connector":               "the map of the house (documentation only)",
	"connector/cli/bench":     "partoo-bench's entry point, so its main stays three lines",
	"connector/cli/connector": "partoo-connector's entry point, so its main stays three lines",
	"connector/cli/sim":       "partoo-sim's entry point, so its main stays three lines",
	"connector/events":        "the consumer-side decoder of the events topic",
	"schemas":                 "the Avro schemas (.avsc), embedded",
}

// tables are production functions allowed over maxFuncLines: declarative tables, one entry a
// line.
var tables = map[string]bool{
	"connector/internal/metrics.newVecs": true,
}

const (
	maxFileLines = 500
	maxFuncLines = 80
)

// TestTheHouseKeepsItsShape: production files and functions stay small, and what is public is
// what publicPackages says; the rest is under connector/internal.
func TestTheHouseKeepsItsShape(t *testing.T) {
	fset := token.NewFileSet()
	exported := map[string]int{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "examples" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel("..", path)
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		if n := fset.File(f.Pos()).LineCount(); n > maxFileLines {
			t.Errorf("%s has %d lines (at most %d: split it by concern)", rel, n, maxFileLines)
		}
		pkg := filepath.ToSlash(filepath.Dir(rel))
		internal := strings.Contains(pkg, "/internal/") || strings.HasSuffix(pkg, "/internal")
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok {
				lines := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
				if lines > maxFuncLines && !tables[pkg+"."+fn.Name.Name] {
					t.Errorf("%s: func %s has %d lines (at most %d outside declarative tables)", rel, fn.Name.Name, lines, maxFuncLines)
				}
			}
			if !internal && f.Name.Name != "main" {
				exported[pkg] += exportedNames(decl)
			}
		}
		if !internal && publicPackages[pkg] == "" {
			t.Errorf("%s is public (outside connector/internal) but not in publicPackages: move it under connector/internal, or make it public deliberately", pkg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	total := 0
	for p, n := range exported {
		pkgs = append(pkgs, p)
		total += n
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		t.Logf("public: %-28s %3d exported identifiers (%s)", p, exported[p], publicPackages[p])
	}
	t.Logf("public surface: %d exported identifiers in %d packages", total, len(pkgs))
}

// exportedNames counts a declaration's exported identifiers: functions, methods of exported
// types, types with their exported fields and methods, constants and variables.
func exportedNames(decl ast.Decl) int {
	n := 0
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if !d.Name.IsExported() {
			return 0
		}
		if d.Recv != nil {
			rt := d.Recv.List[0].Type
			if s, ok := rt.(*ast.StarExpr); ok {
				rt = s.X
			}
			if id, ok := rt.(*ast.Ident); ok && !id.IsExported() {
				return 0
			}
		}
		return 1
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch s := spec.(type) {
			case *ast.TypeSpec:
				if s.Name.IsExported() {
					n++
					if st, ok := s.Type.(*ast.StructType); ok {
						for _, f := range st.Fields.List {
							for _, name := range f.Names {
								if name.IsExported() {
									n++
								}
							}
						}
					}
				}
			case *ast.ValueSpec:
				for _, name := range s.Names {
					if name.IsExported() {
						n++
					}
				}
			}
		}
	}
	return n
}

// TestTheDiffLinksNoIO: the change detection links the standard library's pure parts and the
// domain model only — no HTTP, no TLS, no Kafka client.
func TestTheDiffLinksNoIO(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./internal/diff").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "net/http" || dep == "crypto/tls" || strings.HasPrefix(dep, "github.com/twmb/") {
			t.Errorf("connector/internal/diff links %s", dep)
		}
	}
}

// TestTheHouseCommandsLinkOnlyWhatTheyRun: the connector binary links no benchmark (the bench
// CLI, the bench packages, golang.org/x/image for the plot) — its demo embeds the simulator,
// nothing more — and the simulator links neither of the other two commands.
func TestTheHouseCommandsLinkOnlyWhatTheyRun(t *testing.T) {
	const mod = "github.com/partoo-connector/partoo-connector/"
	forbidden := map[string][]string{
		"partoo-connector": {mod + "connector/internal/cli/benchcli", mod + "connector/internal/bench/", "golang.org/x/image"},
		"partoo-sim":       {mod + "connector/internal/cli/benchcli", mod + "connector/internal/cli/connectorcli"},
	}
	for cmd, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "../cmd/"+cmd).Output()
		if err != nil {
			t.Fatalf("go list -deps ../cmd/%s: %v", cmd, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps ../cmd/%s listed %d packages: %q", cmd, len(deps), deps)
		}
		for _, dep := range deps {
			for _, b := range bad {
				if dep == b || strings.HasPrefix(dep, b+"/") || (strings.HasSuffix(b, "/") && strings.HasPrefix(dep, b)) {
					t.Errorf("cmd/%s links %s", cmd, dep)
				}
			}
		}
	}
}
