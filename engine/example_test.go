package engine_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"bits/engine"
)

// A program queues a download, follows it and completes it. The worker runs
// inside the program here; a program that leaves it out (StartWorker nil)
// gets the user's worker, `bitsjob worker`, started with the first job.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "hello.txt", time.Time{}, strings.NewReader("hello, world\n"))
	}))
	defer srv.Close()
	home, err := os.MkdirTemp("", "bits-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(home)
	ctx := context.Background()

	m, err := engine.Open(engine.Options{Home: home, StartWorker: func(string) error { return nil }})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	workerCtx, stopWorker := context.WithCancel(ctx)
	worker := make(chan error, 1)
	go func() { worker <- engine.RunWorker(workerCtx, m, engine.WorkerOptions{}) }()
	defer func() { stopWorker(); <-worker }()

	job, err := m.Create(ctx, "example", engine.Download)
	if err != nil {
		log.Fatal(err)
	}
	dest := filepath.Join(home, "hello.txt")
	if err := m.AddFile(ctx, job.ID, srv.URL+"/hello.txt", dest); err != nil {
		log.Fatal(err)
	}
	w, err := m.Watch(ctx) // before Resume: no change is missed
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	if err := m.Resume(ctx, job.ID); err != nil {
		log.Fatal(err)
	}
	for c := range w.Changes() {
		if c.ID != job.ID {
			continue
		}
		if c.Kind == engine.ChangeError {
			log.Fatal(c.Job.Err)
		}
		if c.Kind == engine.ChangeTransferred {
			break
		}
	}
	// The file takes its name only now.
	if _, err := m.Complete(ctx, job.ID); err != nil {
		log.Fatal(err)
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(b))
	// Output: hello, world
}

// A program submits a whole job in one step (its settings and files, and
// queued at once) and learns of its failure: a file the server does not
// have. Each change's job carries the error's code and description.
func ExampleManager_Submit() {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	home, err := os.MkdirTemp("", "bits-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(home)
	ctx := context.Background()

	m, err := engine.Open(engine.Options{Home: home, StartWorker: func(string) error { return nil }})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	workerCtx, stopWorker := context.WithCancel(ctx)
	worker := make(chan error, 1)
	go func() { worker <- engine.RunWorker(workerCtx, m, engine.WorkerOptions{}) }()
	defer func() { stopWorker(); <-worker }()

	w, err := m.Watch(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	foreground := engine.Foreground
	job, err := m.Submit(ctx, engine.JobSpec{
		Name:     "nightly",
		Settings: []engine.Props{{Priority: &foreground}},
		Files:    []engine.FileSpec{{Remote: srv.URL + "/missing.iso", Local: filepath.Join(home, "missing.iso")}},
		Resume:   true,
	})
	if err != nil {
		log.Fatal(err)
	}
	for c := range w.Changes() {
		if c.ID == job.ID && c.Kind == engine.ChangeError {
			fmt.Printf("%s: 0x%08X %s\n", c.Job.DisplayName, uint32(c.Job.Err.Code), c.Job.Err.Code.Message())
			break
		}
	}
	if _, err := m.Cancel(ctx, job.ID); err != nil {
		log.Fatal(err)
	}
	// Output: nightly: 0x80190194 HTTP status 404: Not Found
}
