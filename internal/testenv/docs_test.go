package testenv

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// Every WEBAUTHNKIT_* variable the module's code or scripts read is in
// docs/testing.md, so a new one cannot go undocumented.
func TestEveryVariableDocumented(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "testing.md"))
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`WEBAUTHNKIT_[A-Z0-9_]*[A-Z0-9]`)
	found := map[string]string{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".go" && ext != ".sh" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, v := range name.FindAllString(string(b), -1) {
			found[v] = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 3 {
		t.Fatalf("found only %v: is the walk rooted at the module?", found)
	}
	var missing []string
	for v, path := range found {
		if !strings.Contains(string(doc), "`"+v+"`") {
			missing = append(missing, v+" (read in "+path+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("not in docs/testing.md: %s", strings.Join(missing, ", "))
	}
}
