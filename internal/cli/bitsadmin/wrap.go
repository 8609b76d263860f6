package bitsadmin

import (
	"io"
	"unicode/utf8"
)

// /WRAP and /NOWRAP. On Windows, /WRAP (the default, except for /MONITOR)
// lets the console wrap long lines and /NOWRAP cuts them at the console's
// width, so that /MONITOR redraws one row per job. Here the lines are fitted
// only when stdout is a terminal whose width is known: a pipe or a file
// always gets whole lines, whatever the prefix. Without a prefix the
// terminal wraps by itself, which looks the same as Windows' default.

// fitLines makes stdout break (/WRAP) or cut (/NOWRAP, and /MONITOR by
// default) lines at the terminal's width.
func (e *env) fitLines(c call) {
	mode := c.wrap
	if mode == "" && c.verb == "/MONITOR" {
		mode = "/NOWRAP"
	}
	if mode == "" || !e.terminal || e.width <= 0 {
		return
	}
	e.stdout = &lineFitter{w: e.stdout, width: e.width, wrap: mode == "/WRAP"}
}

// lineFitter writes through to w, breaking (wrap) or cutting lines longer
// than width columns. It counts runes, not display cells. Carriage returns
// start a new column count and ANSI escape sequences take no columns, so
// /TRANSFER's and /MONITOR's redraws pass through intact.
type lineFitter struct {
	w     io.Writer
	width int
	wrap  bool
	col   int
	esc   int // 0: text; 1: after ESC; 2: inside a CSI sequence
	buf   []byte
}

func (f *lineFitter) Write(p []byte) (int, error) {
	f.buf = f.buf[:0]
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRune(p[i:])
		chunk := p[i : i+n]
		i += n
		switch {
		case f.esc == 1:
			f.esc = 0
			if r == '[' {
				f.esc = 2
			}
		case f.esc == 2:
			if r >= 0x40 && r <= 0x7e {
				f.esc = 0
			}
		case r == 0x1b:
			f.esc = 1
		case r == '\n' || r == '\r':
			f.col = 0
		case f.col >= f.width:
			if !f.wrap {
				continue // cut: drop the rest of the line
			}
			f.buf = append(f.buf, '\n')
			f.col = 1
		default:
			f.col++
		}
		f.buf = append(f.buf, chunk...)
	}
	if _, err := f.w.Write(f.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
