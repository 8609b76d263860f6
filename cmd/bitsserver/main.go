// Command bitsserver serves the files under a folder over HTTP, with byte
// ranges and validators, for BITS clients to download. The BITS upload
// protocol will follow. The handler lives in package server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"bits/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// shutdownGrace is how long a stopping server lets responses under way
// finish before it cuts them.
const shutdownGrace = 5 * time.Second

// run serves until ctx ends and returns the exit code: 0 after a clean
// stop, 1 when it cannot serve, 2 for bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("bitsserver", flag.ContinueOnError)
	fl.SetOutput(stderr)
	listen := fl.String("listen", "127.0.0.1:8080", "`address` to listen on; port 0 picks a free port (the address is printed)")
	root := fl.String("root", "", "`folder` whose files are served (required)")
	rate := fl.Int64("rate", 0, "cap each response at this many `bytes` per second; 0 is unlimited")
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), "Usage: bitsserver -root DIR [-listen ADDR] [-rate BYTES_PER_SEC]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fl.NArg() > 0 || *root == "" {
		fl.Usage()
		return 2
	}

	h, err := server.New(server.Config{Root: *root, Rate: *rate})
	if err != nil {
		fmt.Fprintln(stderr, "bitsserver:", err)
		return 1
	}
	defer h.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "bitsserver:", err)
		return 1
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(stderr, "bitsserver: ", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())

	select {
	case err := <-served:
		fmt.Fprintln(stderr, "bitsserver:", err)
		return 1
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "bitsserver: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close() // responses still running after the grace period
	}
	<-served // http.ErrServerClosed
	return 0
}
