package server

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
)

// TestManySessions runs uploads side by side, each in many fragments, and
// on one of them sends every fragment several times at once, as a
// misbehaving client would: each file must come out whole.
func TestManySessions(t *testing.T) {
	f := startUploads(t, nil)
	const uploads, size, piece = 24, 64 << 10, 5000
	var wg sync.WaitGroup
	errs := make(chan error, uploads+1)
	for i := range uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- uploadConcurrently(f, fmt.Sprintf("/up/m%02d.bin", i), pattern(size, byte(i)), piece, 1)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- uploadConcurrently(f, "/up/dup.bin", pattern(size, 99), piece, 4)
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for i := range uploads {
		if got := readFile(t, filepath.Join(f.up, fmt.Sprintf("m%02d.bin", i))); !bytes.Equal(got, pattern(size, byte(i))) {
			t.Errorf("m%02d.bin differs", i)
		}
	}
	if got := readFile(t, filepath.Join(f.up, "dup.bin")); !bytes.Equal(got, pattern(size, 99)) {
		t.Error("dup.bin differs")
	}
}

// uploadConcurrently sends each fragment copies times at once; only the
// goroutine-safe parts of the fixture are used.
func uploadConcurrently(f *upfix, path string, data []byte, piece, copies int) error {
	do := func(header ...string) (*http.Response, error) {
		var body []byte
		if header[1] == "Fragment" {
			body = []byte(header[len(header)-1])
			header = header[:len(header)-1]
		}
		req, err := http.NewRequest("BITS_POST", f.ts.URL+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := f.ts.Client().Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		return resp, nil
	}
	resp, err := do("BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", upload15)
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: Create-Session: %v %v", path, resp, err)
	}
	id := resp.Header.Get("BITS-Session-Id")
	for off := 0; off < len(data); off += piece {
		end := min(off+piece, len(data))
		// One copy is written (200); the others find it there (416).
		var wg sync.WaitGroup
		var mu sync.Mutex
		written := 0
		results := make(chan error, copies)
		for range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := do("BITS-Packet-Type", "Fragment", "BITS-Session-Id", id,
					"Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, end-1, len(data)), string(data[off:end]))
				switch {
				case err != nil:
					results <- err
				case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusRequestedRangeNotSatisfiable,
					resp.Header.Get("BITS-Received-Content-Range") != fmt.Sprint(end):
					results <- fmt.Errorf("%s: fragment at %d: %s, received %s", path, off, resp.Status, resp.Header.Get("BITS-Received-Content-Range"))
				default:
					if resp.StatusCode == http.StatusOK {
						mu.Lock()
						written++
						mu.Unlock()
					}
					results <- nil
				}
			}()
		}
		wg.Wait()
		close(results)
		for err := range results {
			if err != nil {
				return err
			}
		}
		if written != 1 {
			return fmt.Errorf("%s: fragment at %d: %d of %d copies answered 200, want 1", path, off, written, copies)
		}
	}
	resp, err = do("BITS-Packet-Type", "Close-Session", "BITS-Session-Id", id)
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: Close-Session: %v %v", path, resp, err)
	}
	return nil
}
