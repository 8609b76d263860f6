// Command download queues a download with the bits engine, prints its
// progress, waits until it is transferred and completes it:
//
//	go run ./examples/go/download URL LOCALFILE
//
// The engine starts the user's worker, `bitsjob worker`, when the job is
// resumed: bitsjob must be on PATH.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"bits/engine"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: download URL LOCALFILE")
		os.Exit(2)
	}
	if err := download(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func download(url, local string) error {
	local, err := filepath.Abs(local)
	if err != nil {
		return err
	}
	ctx := context.Background()
	m, err := engine.Open(engine.Options{})
	if err != nil {
		return err
	}
	defer m.Close()

	job, err := m.Create(ctx, "download example", engine.Download)
	if err != nil {
		return err
	}
	if err := m.AddFile(ctx, job.ID, url, local); err != nil {
		return err
	}
	// Watch before Resume, so that no change is missed.
	w, err := m.Watch(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	if err := m.Resume(ctx, job.ID); err != nil {
		return err
	}

	for c := range w.Changes() {
		if c.ID != job.ID {
			continue
		}
		switch c.Kind {
		case engine.ChangeModified:
			total, done, _, _ := c.Job.Progress()
			if total == engine.SizeUnknown {
				fmt.Printf("progress: %d bytes, size unknown\n", done)
			} else {
				fmt.Printf("progress: %d of %d bytes\n", done, total)
			}
		case engine.ChangeTransferred:
			// The file takes its name only now.
			if _, err := m.Complete(ctx, job.ID); err != nil {
				return err
			}
			fmt.Println("done:", local)
			return nil
		case engine.ChangeError:
			m.Cancel(ctx, job.ID)
			e := c.Job.Err
			if e.Msg == "" {
				return fmt.Errorf("0x%08x: %s", uint32(e.Code), e.Code.Message())
			}
			return fmt.Errorf("0x%08x: %s", uint32(e.Code), e.Msg)
		case engine.ChangeRemoved:
			return errors.New("the job was cancelled")
		}
	}
	return w.Err()
}
