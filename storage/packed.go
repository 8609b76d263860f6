package storage

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// unpack reads a row that SQLite packed with json_array, a flat array of
// strings and integers, into dest: *string, *int, *int64 or *bool, one per
// element in order. A string without escapes is a slice of packed, not a
// copy.
func unpack(packed string, dest ...any) error {
	s := packed
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return errors.New("not a JSON array")
	}
	s = s[1 : len(s)-1]
	for i, d := range dest {
		if i > 0 {
			if s == "" || s[0] != ',' {
				return fmt.Errorf("%d elements, want %d", i, len(dest))
			}
			s = s[1:]
		}
		var tok string
		var err error
		if s != "" && s[0] == '"' {
			tok, s, err = jsonString(s)
			if err != nil {
				return err
			}
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			tok, s = s[:end], s[end:]
		}
		switch d := d.(type) {
		case *string:
			*d = tok
		case *int:
			*d, err = strconv.Atoi(tok)
		case *int64:
			*d, err = strconv.ParseInt(tok, 10, 64)
		case *bool:
			var n int64
			n, err = strconv.ParseInt(tok, 10, 64)
			*d = n != 0
		default:
			return fmt.Errorf("cannot unpack into %T", d)
		}
		if err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
	}
	if s != "" {
		return fmt.Errorf("more than %d elements", len(dest))
	}
	return nil
}

// jsonString reads the JSON string that s starts with and returns its
// value and what follows it.
func jsonString(s string) (value, rest string, err error) {
	i := 1
	for i < len(s) && s[i] != '"' && s[i] != '\\' {
		i++
	}
	if i < len(s) && s[i] == '"' {
		return s[1:i], s[i+1:], nil // no escapes: the common case
	}
	b := []byte(s[1:i])
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			return string(b), s[i+1:], nil
		case c != '\\':
			b = append(b, c)
			i++
			continue
		case i+1 >= len(s):
			return "", "", errors.New("unterminated string")
		}
		i++
		switch e := s[i]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, n, ok := hex4(s[i+1:])
			if !ok {
				return "", "", errors.New("bad \\u escape")
			}
			i += n
			if utf16.IsSurrogate(r) {
				if r2, n2, ok := hex4(strings.TrimPrefix(s[i+1:], `\u`)); ok && strings.HasPrefix(s[i+1:], `\u`) {
					if c := utf16.DecodeRune(r, r2); c != utf8.RuneError {
						r = c
						i += 2 + n2
					}
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", "", fmt.Errorf("bad escape \\%c", e)
		}
		i++
	}
	return "", "", errors.New("unterminated string")
}

// hex4 reads the four hex digits of a \u escape.
func hex4(s string) (rune, int, bool) {
	if len(s) < 4 {
		return 0, 0, false
	}
	v, err := strconv.ParseUint(s[:4], 16, 16)
	return rune(v), 4, err == nil
}
