package bitsserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"bits/server"
)

// hashPassword prints "user:bcrypt-hash" for a users file. The password
// comes from standard input: typed without echo on a terminal, else the
// first line.
func hashPassword(user string, stdin io.Reader, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintln(stderr, "bitsserver:", err)
		return 1
	}
	if strings.ContainsFunc(user, func(c rune) bool { return c <= ' ' || c == ':' || c == 0x7f }) {
		return usageError(stderr, fmt.Errorf("user name %q: no spaces, colons or control characters", user))
	}
	var password string
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return fail(err)
		}
		password = string(b)
	} else {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fail(err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		return fail(errors.New("empty password"))
	}
	hash, err := server.HashPassword(password)
	if err != nil {
		return fail(fmt.Errorf("hashing the password: %w", err)) // bcrypt's limit: 72 bytes
	}
	fmt.Fprintf(stdout, "%s:%s\n", user, hash)
	return 0
}
