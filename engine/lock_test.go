package engine_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bits/engine"
	"bits/engine/spawn"
	"bits/internal/testenv"
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
	for !spawn.Running(home) {
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
	if !errors.Is(err, spawn.ErrRunning) {
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
	if spawn.Running(home) {
		t.Error("the lock is still held after the worker exited")
	}
}

// TestWorkerStaysWhileAJobMayNeedIt runs three workers side by side: one
// with nothing to do, one whose job waits to retry long after the idle
// timeout, and one that never idles out. When the first has exited for
// idleness, the other two must still run.
func TestWorkerStaysWhileAJobMayNeedIt(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	run := func(m *engine.Manager, idle time.Duration) <-chan error {
		done, finished := make(chan error, 1), make(chan struct{})
		go func() {
			defer close(finished)
			done <- engine.RunWorker(t.Context(), m, engine.WorkerOptions{IdleTimeout: idle, Log: quiet})
		}()
		t.Cleanup(func() { <-finished }) // before the Manager closes
		testenv.Eventually(t, "the worker to take its lock", func() bool { return spawn.Running(m.Home()) })
		return done
	}
	open := func() *engine.Manager {
		m, err := engine.Open(engine.Options{Home: t.TempDir(), StartWorker: func(string) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	const idle = 200 * time.Millisecond

	// A job whose server refuses connections waits ten minutes to retry.
	waiting := open()
	ctx := context.Background()
	delay := 10 * time.Minute
	j, err := waiting.Create(ctx, "retry", engine.Download)
	if err != nil {
		t.Fatal(err)
	}
	if err := waiting.Set(ctx, j.ID, engine.Props{MinRetryDelay: &delay}); err != nil {
		t.Fatal(err)
	}
	if err := waiting.AddFile(ctx, j.ID, "http://127.0.0.1:9/file", filepath.Join(t.TempDir(), "f")); err != nil {
		t.Fatal(err)
	}
	if err := waiting.Resume(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	retrying := run(waiting, idle)
	testenv.Eventually(t, "the job to wait for its retry", func() bool {
		j, err := waiting.Get(ctx, j.ID)
		return err == nil && j.State == engine.TransientError
	})
	never := open()
	forever := run(never, engine.NeverIdle)

	control := run(open(), idle)
	select {
	case err := <-control:
		if err != nil {
			t.Fatalf("idle worker: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the worker with nothing to do did not exit")
	}
	for name, done := range map[string]<-chan error{"the worker of a job waiting to retry": retrying, "the worker that never idles out": forever} {
		select {
		case err := <-done:
			t.Errorf("%s exited (%v) when a worker with nothing to do did", name, err)
		default:
		}
	}
	for _, m := range []*engine.Manager{waiting, never} {
		pid, _ := spawn.PID(m.Home())
		if pid != os.Getpid() {
			t.Errorf("lock of %s holds pid %d, want this process's %d", m.Home(), pid, os.Getpid())
		}
	}
}
