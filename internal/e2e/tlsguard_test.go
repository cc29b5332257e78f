package e2e

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// insecureTLS returns "file:line" for every use of tls.Config's InsecureSkipVerify field in src.
// It reads the syntax tree, so a mention in a comment or a string does not count and no
// spelling of the assignment (a literal, a field set later) escapes it.
func insecureTLS(name string, src []byte) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var hits []string
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Name == "InsecureSkipVerify" {
			hits = append(hits, fset.Position(id.Pos()).String())
		}
		return true
	})
	return hits, nil
}

func TestInsecureTLSDetector(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want int
	}{
		{"literal", "package p\nimport \"crypto/tls\"\nvar c = &tls.Config{InsecureSkipVerify: true}\n", 1},
		{"field set later", "package p\nimport \"crypto/tls\"\nfunc f(c *tls.Config) { c.InsecureSkipVerify = true }\n", 1},
		{"comment and string only", "package p\n// InsecureSkipVerify is never set\nvar s = \"InsecureSkipVerify\"\n", 0},
		{"clean", "package p\nimport \"crypto/tls\"\nvar c = &tls.Config{MinVersion: tls.VersionTLS12}\n", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hits, err := insecureTLS("x.go", []byte(tc.src))
			if err != nil || len(hits) != tc.want {
				t.Errorf("insecureTLS found %v (%v), want %d", hits, err, tc.want)
			}
		})
	}
}

// TestTLSVerificationNeverDisabled fails when any non-test Go file of the module turns TLS
// certificate verification off. Tests trust private CAs through SSL_CERT_FILE or a cert
// pool instead.
func TestTLSVerificationNeverDisabled(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		hits, err := insecureTLS(path, src)
		if err != nil {
			t.Errorf("parse %s: %v", path, err)
		}
		for _, h := range hits {
			t.Errorf("%s: InsecureSkipVerify: TLS verification must never be disabled", h)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Fatalf("checked only %d Go files under %s; the walk missed the module", files, root)
	}
}
