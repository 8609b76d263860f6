package engine_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"bits/engine"
)

// TestOneWorkerPerStateFolder runs a worker, checks a second one refuses
// to start, and that the first exits by itself when idle and frees the lock.
func TestOneWorkerPerStateFolder(t *testing.T) {
	home := t.TempDir()
	m, err := engine.Open(engine.Options{Home: home, StartWorker: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	first := make(chan error, 1)
	go func() {
		first <- engine.RunWorker(context.Background(), m, engine.WorkerOptions{IdleTimeout: 300 * time.Millisecond, Log: quiet})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !engine.WorkerRunning(home) {
		select {
		case err := <-first:
			t.Fatalf("the worker ended before it was seen: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker never took its lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	err = engine.RunWorker(context.Background(), m, engine.WorkerOptions{Log: quiet})
	if !errors.Is(err, engine.ErrWorkerRunning) {
		t.Fatalf("second worker: %v, want ErrWorkerRunning", err)
	}
	select {
	case err := <-first:
		if err != nil {
			t.Fatalf("idle worker: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the idle worker did not exit")
	}
	if engine.WorkerRunning(home) {
		t.Error("the lock is still held after the worker exited")
	}
}
