package bitsserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"bits/server"
)

// shutdownGrace is how long a stopping server lets responses under way
// finish before it cuts them.
const shutdownGrace = 5 * time.Second

// serve runs the server the options describe until ctx ends.
func serve(ctx context.Context, o *options, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintln(stderr, "bitsserver:", err)
		return 1
	}
	logger := log.New(stderr, "bitsserver: ", 0)
	cfg := o.serverConfig()
	cfg.Log = logger
	if o.users != "" {
		users, err := server.LoadUsers(o.users)
		if err != nil {
			return fail(err)
		}
		cfg.Users = users
	}
	var tlsConfig *tls.Config
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fail(fmt.Errorf("TLS certificate: %w", err))
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if o.store != "" {
		st, err := openStore(o)
		if err != nil {
			return fail(err)
		}
		cfg.Store = st
	}
	h, err := server.New(cfg)
	if err != nil {
		return fail(err)
	}
	defer h.Close()
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fail(err)
	}
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          logger,
		// No ReadTimeout or WriteTimeout: fragments and paced downloads
		// may take long; the server stops bodies that stall instead.
	}
	scheme := "http"
	served := make(chan error, 1)
	if tlsConfig != nil {
		scheme = "https"
		go func() { served <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { served <- srv.Serve(ln) }()
	}
	if cfg.Users != nil && tlsConfig == nil && !isLoopback(ln.Addr()) {
		logger.Print("warning: Basic authentication without -tls-cert sends passwords in clear text")
	}
	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, ln.Addr())

	select {
	case err := <-served:
		return fail(err)
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

// openStore connects to the -store the way S3 tools do: endpoint and
// region from the flags or AWS_ENDPOINT_URL and AWS_REGION, credentials
// from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY only, so they appear
// in no command line.
func openStore(o *options) (*server.S3Store, error) {
	bucket, prefix, err := server.ParseStoreURL(o.store)
	if err != nil {
		return nil, err
	}
	cfg := server.S3Config{
		Endpoint:  firstSet(o.s3Endpoint, os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL")),
		Region:    firstSet(o.s3Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1"),
		AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		Bucket:    bucket,
		Prefix:    prefix,
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("-store: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	return server.OpenS3Store(cfg)
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
