package bitsadmin

import (
	"context"
	"fmt"
	"io"
	"time"
)

// /MONITOR: the job list, refreshed every few seconds until Ctrl+C.

const defaultRefresh = 5 * time.Second

type monitorOptions struct {
	AllUsers bool
	Refresh  time.Duration
}

func bindMonitor(ctx context.Context, e *env, c call) error {
	o := monitorOptions{AllUsers: c.has(swAllUsers.name), Refresh: defaultRefresh}
	if v, ok := c.sw["/REFRESH"]; ok {
		n, err := parseULONG(v)
		if err != nil || n == 0 {
			return &actionError{action: "set the refresh interval", err: invalidArg("%q is not a number of seconds", v)}
		}
		o.Refresh = time.Duration(n) * time.Second
	}
	return runMonitor(ctx, e, o)
}

// clearScreen moves the cursor home and clears the terminal.
const clearScreen = "\x1b[H\x1b[2J"

// runMonitor shows the jobs every o.Refresh. On a terminal it clears the
// screen and redraws; otherwise it prints one snapshot after the other,
// without escape codes, with a blank line between them, so a log or a
// script reading the pipe gets them whole. Ctrl+C (or SIGTERM) ends it,
// and that is a success.
func runMonitor(ctx context.Context, e *env, o monitorOptions) error {
	sig, stop := e.interrupt()
	defer stop()
	for round := 1; ; round++ {
		jobs, err := e.listJobs(ctx, o.AllUsers)
		if err != nil {
			return failed("list jobs", err)
		}
		switch {
		case e.terminal:
			io.WriteString(e.stdout, clearScreen)
		case round > 1:
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintf(e.stdout, "MONITORING BACKGROUND COPY MANAGER(%d second refresh)\n", seconds(o.Refresh))
		for _, j := range jobs {
			fmt.Fprintln(e.stdout, listLine(j.Summary()))
		}
		if e.monitorRounds > 0 && round >= e.monitorRounds {
			return nil
		}
		select {
		case <-sig:
			return nil
		case <-ctx.Done():
			return nil
		case <-e.after(o.Refresh):
		}
	}
}
