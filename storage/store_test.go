package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jobs.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestOpenCreatesPrivateDatabase(t *testing.T) {
	s, path := openTemp(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", fi.Mode().Perm())
	}
	names, _ := fs.Glob(migrations, "sql/*.sql")
	v, err := s.Version(context.Background())
	if err != nil || v != len(names) {
		t.Errorf("schema version %d, %v; want %d, the last migration's", v, err, len(names))
	}
}

// TestUpgradeFromV1 opens a database written by the first schema and checks
// that it upgrades in place and keeps its jobs.
func TestUpgradeFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	src, err := os.Open("testdata/schema-v1.db")
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := os.Create(path)
	io.Copy(dst, src)
	src.Close()
	dst.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	names, _ := fs.Glob(migrations, "sql/*.sql")
	if v, _ := s.Version(ctx); v != len(names) {
		t.Fatalf("version after upgrade = %d, want %d, the last migration's", v, len(names))
	}
	err = s.View(ctx, func(tx *Tx) error {
		j, err := tx.Job("6AF46E48-41D3-453F-B7AF-A694BBC823F7")
		if err != nil {
			return err
		}
		if j.DisplayName != "old job" || j.State != 5 || j.ErrorCount != 3 || j.MinRetryDelayS != 600 ||
			j.TransientSinceNS != 0 || j.RetryAtNS != 0 || j.MaxBandwidthKbps != 0 {
			t.Errorf("upgraded job = %+v", j)
		}
		files, err := tx.Files(j.ID)
		if err != nil {
			return err
		}
		if len(files) != 1 || files[0].BytesDone != 65536 || files[0].Validator != `"v1"` {
			t.Errorf("upgraded files = %+v", files)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Opening again must not apply anything twice.
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
}

func TestStrictTablesRefuseBadValues(t *testing.T) {
	s, _ := openTemp(t)
	err := s.Update(context.Background(), func(tx *Tx) error {
		return tx.InsertJob(Job{ID: "X", DisplayName: "x", Owner: "o", State: 9, CreatedNS: 1, ModifiedNS: 1}, nil)
	})
	if err == nil {
		t.Fatal("state 9 was stored")
	}
}

// TestCompareAndSetAcrossHandles has several handles (each its own pool of
// connections, as separate processes would have) race to move one job out
// of a state, and bump a counter with read-modify-write transactions: one
// CAS wins, and no increment is lost.
func TestCompareAndSetAcrossHandles(t *testing.T) {
	_, path := openTemp(t)
	ctx := context.Background()
	const handles, rounds = 4, 25
	stores := make([]*Store, handles)
	for i := range stores {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	job := Job{ID: "J", DisplayName: "j", Owner: "o", State: 3, Priority: 2, CreatedNS: 1, ModifiedNS: 1,
		MinRetryDelayS: 600, NoProgressS: 1, MaxDownloadS: 1, ErrorFile: -1}
	if err := stores[0].Update(ctx, func(tx *Tx) error { return tx.InsertJob(job, nil) }); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	wins := make(chan int, handles)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				err := s.Update(ctx, func(tx *Tx) error {
					j, err := tx.Job("J")
					if err != nil {
						return err
					}
					j.ErrorCount++
					_, err = tx.UpdateJob(j, j.State)
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}
			err := s.Update(ctx, func(tx *Tx) error {
				j, err := tx.Job("J")
				if err != nil {
					return err
				}
				j.State = 0
				ok, err := tx.UpdateJob(j, 3)
				if ok {
					wins <- i
				}
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(wins)
	if n := len(wins); n != 1 {
		t.Errorf("%d handles won the compare-and-set, want 1", n)
	}
	stores[0].View(ctx, func(tx *Tx) error {
		j, _ := tx.Job("J")
		if j.ErrorCount != handles*rounds {
			t.Errorf("counter = %d, want %d: an update was lost", j.ErrorCount, handles*rounds)
		}
		return nil
	})
}

func TestFileProgressTouchesOnlyProgress(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.InsertJob(Job{ID: "J", DisplayName: "j", Owner: "o", State: 2, CreatedNS: 1, ModifiedNS: 1, ErrorFile: -1}, nil); err != nil {
			return err
		}
		return tx.InsertFiles([]File{{JobID: "J", Idx: 0, RemoteName: "http://a/b", LocalName: "/tmp/b", BytesTotal: -1}})
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Update(ctx, func(tx *Tx) error {
		ok, err := tx.SetFileProgress("J", 0, FileProgress{TempName: "/tmp/BIT0001.tmp", BytesTotal: 10, BytesDone: 4, Validator: "v"})
		if !ok || err != nil {
			t.Errorf("SetFileProgress = %v, %v", ok, err)
		}
		ok, _ = tx.SetFileProgress("J", 1, FileProgress{})
		if ok {
			t.Error("progress recorded for a file that does not exist")
		}
		return nil
	})
	s.View(ctx, func(tx *Tx) error {
		f, _ := tx.Files("J")
		if f[0].RemoteName != "http://a/b" || f[0].BytesDone != 4 || f[0].TempName != "/tmp/BIT0001.tmp" {
			t.Errorf("file = %+v", f[0])
		}
		return nil
	})
	s.Update(ctx, func(tx *Tx) error { return tx.DeleteJob("J") })
	s.View(ctx, func(tx *Tx) error {
		if f, _ := tx.Files("J"); len(f) != 0 {
			t.Error("files outlived their job")
		}
		return nil
	})
}

// TestQueriesUseIndexes: what the worker and the front ends look for every
// second or every command is found through an index, never by reading
// every job (a store of 100,000 jobs would then cost a scan each time), and
// a list of every job comes in order from an index rather than sorted in
// memory.
func TestQueriesUseIndexes(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	for q, scan := range map[string]bool{
		`SELECT id FROM jobs WHERE state IN (1, 2, 3, 5) ORDER BY created_ns, id`:                                                                    false,
		`SELECT id FROM jobs WHERE notify_at_ns != 0 ORDER BY notify_at_ns`:                                                                          true, // a partial index: only due jobs
		`SELECT id FROM jobs WHERE modified_ns < 5 ORDER BY modified_ns`:                                                                             false,
		`SELECT id FROM jobs WHERE display_name = 'x' ORDER BY created_ns, id`:                                                                       false,
		`SELECT id FROM jobs ORDER BY created_ns, id`:                                                                                                true,
		`SELECT idx FROM files WHERE job_seq IN (SELECT seq FROM jobs WHERE id IN (SELECT value FROM json_each('["a","b"]'))) ORDER BY job_seq, idx`: false,
		`SELECT idx FROM files WHERE job_seq = (SELECT seq FROM jobs WHERE id = 'a') ORDER BY idx`:                                                   false,
		`UPDATE files SET bytes_done = 1 WHERE job_seq = (SELECT seq FROM jobs WHERE id = 'a') AND idx = 0`:                                          false,
		// At every worker start (ForgetUnsynced) and at TRANSFERRED (MarkSynced).
		`UPDATE files SET complete = 0 WHERE unsynced_boot != '' AND unsynced_boot != 'b'`:                                  true, // a partial index: only unsynced files
		`UPDATE files SET unsynced_boot = '' WHERE unsynced_boot != '' AND job_seq = (SELECT seq FROM jobs WHERE id = 'a')`: false,
	} {
		rows, err := s.db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		switch {
		case !strings.Contains(joined, "INDEX"):
			t.Errorf("%s\nplan: %s; want an index", q, joined)
		case !scan && (strings.Contains(joined, "SCAN jobs") || strings.Contains(joined, "SCAN files")):
			t.Errorf("%s\nplan: %s; want a search, not a scan", q, joined)
		case scan && strings.Contains(joined, "TEMP B-TREE"):
			t.Errorf("%s\nplan: %s; want the index's order, not a sort", q, joined)
		}
	}
}

// TestEachJobStreams lists 20,000 jobs (some with no files, some with
// credentials) and checks that each comes with exactly its own files and
// credential kinds, oldest first, and that the live heap stays small while
// the list runs: the rows are read as they are used, not gathered first.
func TestEachJobStreams(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	const n = 20000
	id := func(i int) string { return fmt.Sprintf("J%05d", i) }
	err := s.Update(ctx, func(tx *Tx) error {
		for i := range n {
			// Created in the reverse order of the ids: the list follows
			// creation, and the files and credentials must follow it too.
			j := Job{ID: id(i), DisplayName: strings.Repeat("x", 200), Owner: "o", CreatedNS: int64(n - i),
				ModifiedNS: 1, MinRetryDelayS: 600, NoProgressS: 1, MaxDownloadS: 1, ErrorFile: -1}
			if err := tx.InsertJob(j, nil); err != nil {
				return err
			}
			for k := range i % 3 {
				f := File{JobID: j.ID, Idx: k, RemoteName: "http://h/" + j.ID, LocalName: "/tmp/" + j.ID, BytesTotal: -1}
				if err := tx.InsertFiles([]File{f}); err != nil {
					return err
				}
			}
			if i%7 == 0 {
				if err := tx.PutCredential(j.ID, Credential{Target: 1, Scheme: 2}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak uint64
	seen := 0
	err = s.View(ctx, func(tx *Tx) error {
		return tx.EachJob(func(j Job, files []File, creds []CredentialKind) error {
			i := n - 1 - seen
			if j.ID != id(i) {
				return fmt.Errorf("job %d is %s, want %s (oldest first)", seen, j.ID, id(i))
			}
			if len(files) != i%3 {
				return fmt.Errorf("%s has %d files, want %d", j.ID, len(files), i%3)
			}
			for k, f := range files {
				if f.JobID != j.ID || f.Idx != k {
					return fmt.Errorf("%s's file %d is %s's file %d", j.ID, k, f.JobID, f.Idx)
				}
			}
			if want := i%7 == 0; (len(creds) == 1) != want || want && creds[0] != (CredentialKind{Target: 1, Scheme: 2}) {
				return fmt.Errorf("%s has credentials %v", j.ID, creds)
			}
			if seen++; seen%2000 == 0 {
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != n {
		t.Fatalf("listed %d jobs, want %d", seen, n)
	}
	// Gathered first, the jobs alone would hold n * (200-byte name + a
	// 48-field row) = more than 10 MB.
	if grew := int64(peak) - int64(before.HeapAlloc); grew > 4<<20 {
		t.Errorf("the live heap grew by %d KiB while listing; want the rows read as they are used", grew>>10)
	}
}

// TestCountJobsFollowsInsertsAndDeletes: the count the job limit is
// checked against is kept by the store itself, whoever inserts or deletes.
func TestCountJobsFollowsInsertsAndDeletes(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	count := func() int {
		var n int
		s.View(ctx, func(tx *Tx) error {
			var err error
			n, err = tx.CountJobs()
			return err
		})
		return n
	}
	err := s.Update(ctx, func(tx *Tx) error {
		for _, id := range []string{"A", "B", "C"} {
			if err := tx.InsertJob(Job{ID: id, DisplayName: id, Owner: "o", MinRetryDelayS: 1, NoProgressS: 1, MaxDownloadS: 1, ErrorFile: -1}, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Fatalf("CountJobs = %d after 3 inserts", n)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.DeleteJob("B") }); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("CountJobs = %d after 3 inserts and a delete", n)
	}
}

// TestSummaryTotalsFollowFiles: the totals a list reads stay what the
// files say, through inserts, checkpoints (sizes learnt, bytes moved, files
// completed) and deletions, as a random series of them checks.
func TestSummaryTotalsFollowFiles(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	files := map[string]int{}
	err := s.Update(ctx, func(tx *Tx) error {
		for i := range 50 {
			id := fmt.Sprintf("J%02d", i)
			if err := tx.InsertJob(Job{ID: id, DisplayName: id, Owner: "o", CreatedNS: int64(i), MinRetryDelayS: 1, NoProgressS: 1, MaxDownloadS: 1, ErrorFile: -1}, nil); err != nil {
				return err
			}
		}
		// A file of job id, of unknown, empty or known size, some with
		// progress already made (an import's).
		newFile := func(id string, k int) File {
			total := int64(rng.IntN(3)) - 1
			f := File{JobID: id, Idx: k, RemoteName: "r", LocalName: "l", BytesTotal: total}
			if total > 0 && rng.IntN(2) == 0 {
				f.BytesDone, f.Complete = total, true
			}
			files[id]++
			return f
		}
		// Files go in one at a time and in runs that span jobs.
		var pending []File
		for i := range 50 {
			id := fmt.Sprintf("J%02d", i)
			for k := range rng.IntN(4) {
				pending = append(pending, newFile(id, k))
				if rng.IntN(3) == 0 {
					if err := tx.InsertFiles(pending); err != nil {
						return err
					}
					pending = nil
				}
			}
		}
		if err := tx.InsertFiles(pending); err != nil {
			return err
		}
		// And jobs that come with their files.
		for i := 50; i < 60; i++ {
			id := fmt.Sprintf("J%02d", i)
			var fs []File
			for k := range rng.IntN(4) {
				fs = append(fs, newFile(id, k))
			}
			if err := tx.InsertJob(Job{ID: id, DisplayName: id, Owner: "o", CreatedNS: int64(i), MinRetryDelayS: 1, NoProgressS: 1, MaxDownloadS: 1, ErrorFile: -1}, fs); err != nil {
				return err
			}
		}
		for range 300 {
			id := fmt.Sprintf("J%02d", rng.IntN(60))
			if files[id] == 0 {
				continue
			}
			total := int64(rng.IntN(1000)) - 1
			p := FileProgress{BytesTotal: total, BytesDone: max(0, total/2), Complete: rng.IntN(2) == 0}
			if _, err := tx.SetFileProgress(id, rng.IntN(files[id]), p); err != nil {
				return err
			}
		}
		for _, id := range []string{"J03", "J17"} {
			if err := tx.DeleteJob(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx *Tx) error {
		n := 0
		err := tx.EachSummary(func(m Summary) error {
			n++
			fs, err := tx.Files(m.ID)
			if err != nil {
				return err
			}
			var want Summary
			want.FilesTotal = len(fs)
			for _, f := range fs {
				if f.Complete {
					want.FilesDone++
				}
				want.BytesDone += f.BytesDone
				if f.BytesTotal < 0 {
					want.SizesUnknown++
				} else {
					want.BytesKnown += f.BytesTotal
				}
			}
			got := Summary{FilesTotal: m.FilesTotal, FilesDone: m.FilesDone, BytesDone: m.BytesDone, BytesKnown: m.BytesKnown, SizesUnknown: m.SizesUnknown}
			if got != want {
				t.Errorf("%s: totals %+v, its files say %+v", m.ID, got, want)
			}
			return nil
		})
		if n != 58 {
			t.Errorf("listed %d jobs, want 58", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenCurrentStoreWaitsForNoWriter: opening a store whose schema is
// current does not take the write lock, so a command starts at once even
// while another process holds a long write transaction.
func TestOpenCurrentStoreWaitsForNoWriter(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	locked, release := make(chan struct{}), make(chan struct{})
	writer := make(chan error, 1)
	go func() {
		writer <- s.Update(ctx, func(tx *Tx) error {
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	opened := make(chan error, 1)
	go func() {
		o, err := Open(path)
		if err == nil {
			o.Close()
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		if err != nil {
			t.Errorf("Open beside a writer: %v", err)
		}
		close(release)
	case <-time.After(3 * time.Second):
		t.Error("Open waited for another handle's write transaction")
		close(release)
		<-opened
	}
	if err := <-writer; err != nil {
		t.Fatal(err)
	}
}

// TestEachJobReadsWhatJobAndFilesRead: the packed rows that EachJob reads
// come back as the rows Job and Files read one at a time, whatever the
// strings hold (quotes, escapes, brackets, control characters, bytes that
// are not UTF-8), and files added to older jobs after newer jobs' files
// still come with their own job, in index order: read in write order, in
// chunks of any size, and after the merge gives up holding files for
// later jobs.
func TestEachJobReadsWhatJobAndFilesRead(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	odd := []string{"", `"quoted"`, `back\slash`, "tab\tnew\nline\r", "\x01\x1f\x7f", "é ü 日本 😀", "\u2028\u2029",
		"<&>", "bad \xff\xfe utf-8", `\u0041 not an escape`, "[1,2]", "null", `],["`, `\"]`}
	const n = 60
	id := func(i int) string { return fmt.Sprintf("J%03d", i) }
	err := s.Update(ctx, func(tx *Tx) error {
		for i := range n {
			w := odd[i%len(odd)]
			j := Job{ID: id(i), DisplayName: w, Description: odd[(i+1)%len(odd)], Owner: "o" + w, Type: i % 3, State: i % 9,
				Priority: i % 4, CreatedNS: int64(1000 - i%7), ModifiedNS: int64(i) << 40, CompletedNS: -int64(i),
				MinRetryDelayS: 600, NoProgressS: 1, MaxDownloadS: 1, NotifyProgram: w, ErrorFile: -1, ErrorCode: -2147024894,
				ErrorMessage: w, CustomHeaders: "A: " + w + "\r\nB: 2", HeadersWriteOnly: i%2 == 0, CertStoreLocation: -1,
				CertHash: "AB" + w, DynamicContent: i%5 == 0, Resumed: true, ReplyTotal: -1, MaxBandwidthKbps: int64(i)}
			if err := tx.InsertJob(j, nil); err != nil {
				return err
			}
			// Every third job gets its files now, the others later, in
			// reverse: their files come after newer jobs' files.
			if i%3 == 0 {
				if err := insertFiles(tx, j.ID, i%4, w); err != nil {
					return err
				}
			}
			if i%7 == 0 {
				if err := tx.PutCredential(j.ID, Credential{Target: 2, Scheme: 1 + i%5}); err != nil {
					return err
				}
			}
		}
		for i := n - 1; i >= 0; i-- {
			if i%3 != 0 {
				if err := insertFiles(tx, id(i), i%4, odd[i%len(odd)]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pending int
		chunk   int64
	}{{maxPending, chunkRows}, {maxPending, 7}, {maxPending, 1}, {1, 3}} {
		t.Run(fmt.Sprintf("maxPending=%d,chunkRows=%d", c.pending, c.chunk), func(t *testing.T) {
			defer func(p int, c int64) { maxPending, chunkRows = p, c }(maxPending, chunkRows)
			maxPending, chunkRows = c.pending, c.chunk
			var order []string
			err := s.View(ctx, func(tx *Tx) error {
				return tx.EachJob(func(j Job, files []File, creds []CredentialKind) error {
					order = append(order, j.ID)
					want, err := tx.Job(j.ID)
					if err != nil {
						return err
					}
					if j != want {
						t.Errorf("EachJob read\n%+v\nJob reads\n%+v", j, want)
					}
					wantFiles, err := tx.Files(j.ID)
					if err != nil {
						return err
					}
					if !slices.Equal(files, wantFiles) {
						t.Errorf("%s: EachJob read files\n%+v\nFiles reads\n%+v", j.ID, files, wantFiles)
					}
					if len(creds) > 0 != (mustAtoi(j.ID[1:])%7 == 0) {
						t.Errorf("%s: credentials %v", j.ID, creds)
					}
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			err = s.View(ctx, func(tx *Tx) error {
				return tx.EachSummary(func(m Summary) error { want = append(want, m.ID); return nil })
			})
			if err != nil || !slices.Equal(order, want) || len(order) != n {
				t.Errorf("EachJob's order %v, %v;\nwant %v", order, err, want)
			}
		})
	}
}

// insertFiles adds k files to a job, with odd strings in their names, the
// last index first.
func insertFiles(tx *Tx, job string, k int, w string) error {
	for x := k - 1; x >= 0; x-- {
		f := File{JobID: job, Idx: x, RemoteName: "http://h/" + w, LocalName: "/tmp/" + w, TempName: w, BytesTotal: int64(x) - 1,
			BytesDone: int64(x) << 33, Complete: x%2 == 1, Validator: w, Ranges: "0:10,20:eof", Validation: x % 3,
			Session: w, Verified: "sha-256", TempID: "1:2:3", UploadReach: int64(x)}
		if err := tx.InsertFiles([]File{f}); err != nil {
			return err
		}
	}
	return nil
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// TestEachJobStopsAtFnsError: an error from fn ends the walk and comes
// back, and the transaction is free for other reads afterwards (the rows
// are no longer read in the background).
func TestEachJobStopsAtFnsError(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	err := s.Update(ctx, func(tx *Tx) error {
		for i := range 500 {
			j := Job{ID: fmt.Sprintf("J%03d", i), Owner: "o", CreatedNS: int64(i), ErrorFile: -1, CertStoreLocation: -1}
			if err := tx.InsertJob(j, nil); err != nil {
				return err
			}
			if err := insertFiles(tx, j.ID, 2, "w"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("enough")
	seen := 0
	err = s.View(ctx, func(tx *Tx) error {
		err := tx.EachJob(func(Job, []File, []CredentialKind) error {
			if seen++; seen == 5 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || seen != 5 {
			t.Errorf("EachJob returned %v after %d jobs; want fn's error after 5", err, seen)
		}
		n, err := tx.CountJobs()
		if err != nil || n != 500 {
			t.Errorf("CountJobs after the walk = %d, %v", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOmittedColumnsDefaultToZero: an insert leaves out a column that is
// zero in every row unless the column is written always, so every other
// column's default must be that zero.
func TestOmittedColumnsDefaultToZero(t *testing.T) {
	s, _ := openTemp(t)
	defaults := map[string]string{}
	rows, err := s.db.Query(`SELECT name, COALESCE(dflt_value, '') FROM pragma_table_info('files')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		defaults[name] = def
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var f File
	for _, c := range fileTable {
		def, ok := defaults[c.name]
		switch {
		case !ok:
			t.Errorf("column %s is not in the table", c.name)
		case c.always:
		case def != "0" && def != "''":
			t.Errorf("column %s may be left out, but its default is %q", c.name, def)
		case (def == "''") != (fmt.Sprint(c.value(&f)) == ""):
			t.Errorf("column %s: default %s, zero value %#v", c.name, def, c.value(&f))
		}
	}
}
