package manpage

import (
	"strings"
	"testing"
)

func TestRenderEscapes(t *testing.T) {
	p := Page{Name: "tool", Summary: "does things", Synopsis: []string{"tool [-x] FILE"},
		Sections: []Section{{Title: "Description", Paragraphs: []string{".starts with a dot", `a\b and 'q'`},
			Items: []Item{{Term: "/VERB <job>", Text: "'quoted first"}}}}}
	got := p.Render()
	for _, want := range []string{".TH TOOL 1 ", ".SH NAME\ntool \\- does things\n", ".B tool [\\-x] FILE\n",
		".SH DESCRIPTION\n\\&.starts with a dot\n.PP\na\\eb and 'q'\n", ".TP\n.B /VERB <job>\n\\&'quoted first\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("the page lacks %q:\n%s", want, got)
		}
	}
}
