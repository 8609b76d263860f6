// Package manpage writes manual pages (roff, man(7) macros) for the
// programs whose help is a table rather than a cobra command tree:
// bitsadmin's verbs and bitsserver's flags. bitsjob's come from cobra.
package manpage

import (
	"fmt"
	"strings"

	"bits/internal/version"
)

// A Page is one manual page of section 1.
type Page struct {
	Name, Summary string // bitsadmin, "manage background transfers ..."
	Synopsis      []string
	Sections      []Section
}

// A Section is a heading with paragraphs, then terms with their text.
type Section struct {
	Title      string
	Paragraphs []string
	Items      []Item
}

// An Item is a term (a command, a flag) and what it does.
type Item struct {
	Term, Text string
}

// Render is the page in roff.
func (p Page) Render() string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s 1 \"\" \"bits %s\" \"User Commands\"\n", strings.ToUpper(p.Name), version.Version)
	b.WriteString(".SH NAME\n" + escape(p.Name) + " \\- " + escape(p.Summary) + "\n")
	b.WriteString(".SH SYNOPSIS\n")
	for i, s := range p.Synopsis {
		if i > 0 {
			b.WriteString(".br\n")
		}
		b.WriteString(".B " + escape(s) + "\n")
	}
	for _, s := range p.Sections {
		b.WriteString(".SH " + escape(strings.ToUpper(s.Title)) + "\n")
		for i, para := range s.Paragraphs {
			if i > 0 {
				b.WriteString(".PP\n")
			}
			b.WriteString(escape(para) + "\n")
		}
		for _, it := range s.Items {
			b.WriteString(".TP\n.B " + escape(it.Term) + "\n" + escape(it.Text) + "\n")
		}
	}
	return b.String()
}

// escape makes text safe in roff: backslashes doubled, hyphens kept as
// hyphens, and a line that would start with a dot or a quote guarded.
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}
