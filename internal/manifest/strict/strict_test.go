package strict

import (
	"strings"
	"testing"
)

func TestSplitYAML(t *testing.T) {
	in := "%YAML 1.2\n---\na: 1\n...\n# only a comment\n---\n--- b: 2\n---\r\nc: |\n  ---x\n"
	got := SplitYAML([]byte(in))
	if len(got) != 3 || string(got[0]) != "a: 1\n" || string(got[1]) != "b: 2\n" || !strings.HasPrefix(string(got[2]), "c: |") {
		t.Fatalf("%q", got)
	}
}

func TestParseDocumentsLinesAndKinds(t *testing.T) {
	docs, err := ParseDocuments([]byte("a: 1.10\nb:\n  - x\n  - true\nc: null\n"))
	if err != nil || len(docs) != 1 {
		t.Fatal(err)
	}
	m := docs[0].Map
	if m[0].Val.Text != "1.10" || m[1].Line != 2 || m[1].Val.Seq[1].Kind != Bool || m[2].Val.Kind != Null {
		t.Fatalf("%+v", m)
	}
	docs, err = ParseDocuments([]byte("{\n\"a\": 1e3,\n\"b\": [\"x\"]\n}"))
	if err != nil || docs[0].Map[0].Val.Text != "1e3" || docs[0].Map[1].Line != 3 {
		t.Fatalf("%v %+v", err, docs)
	}
}
