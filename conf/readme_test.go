package conf

import (
	"os"
	"strings"
	"testing"
)

const (
	tableStart = "<!-- config-table:start (generated from conf.Keys(); UPDATE_README=1 go test ./conf -run TestREADMETable) -->"
	tableEnd   = "<!-- config-table:end -->"
)

// MarkdownTable renders Keys() as the README's configuration table.
func markdownTable() string {
	var b strings.Builder
	b.WriteString("| key | default | meaning |\n|---|---|---|\n")
	for _, k := range Keys() {
		def := k.Default
		if def == "" {
			def = "-"
		} else {
			def = "`" + def + "`"
		}
		desc := strings.ReplaceAll(k.Description, "|", "\\|")
		b.WriteString("| `" + k.Name + "` | " + def + " | " + desc + " |\n")
	}
	return b.String()
}

// The README's configuration table is generated from the key table, so it cannot drift.
func TestREADMETable(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	i, j := strings.Index(text, tableStart), strings.Index(text, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no configuration table markers %q ... %q", tableStart, tableEnd)
	}
	want := markdownTable()
	got := text[i+len(tableStart)+1 : j]
	if got == want {
		return
	}
	if os.Getenv("UPDATE_README") != "" {
		text = text[:i+len(tableStart)+1] + want + text[j:]
		if err := os.WriteFile("../README.md", []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README configuration table is out of date; run UPDATE_README=1 go test ./conf -run TestREADMETable\n got:\n%s\nwant:\n%s", got, want)
}
