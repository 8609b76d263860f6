package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const mib = 1 << 20

// s3Client is a minio-go client of s with its identity (or another
// secret), path-style, over plain HTTP, retrying a failed request at most
// maxRetries times (0: minio-go's default).
func s3Client(t *testing.T, s *S3, secret string, maxRetries int) *minio.Core {
	t.Helper()
	c, err := minio.NewCore(s.Host(), &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey(), secret, ""),
		Region:       s.Region(),
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   maxRetries,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func putBytes(t *testing.T, c *minio.Core, bucket, key string, data []byte) minio.UploadInfo {
	t.Helper()
	info, err := c.Client.PutObject(context.Background(), bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return info
}

func getBytes(t *testing.T, c *minio.Core, bucket, key string) []byte {
	t.Helper()
	o, err := c.Client.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}

// wantS3Error checks that err is the S3 error code with the HTTP status.
func wantS3Error(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %d %s", what, status, code)
	}
	r := minio.ToErrorResponse(err)
	if r.StatusCode != status || r.Code != code {
		t.Fatalf("%s: %v (status %d, code %q), want %d %s", what, err, r.StatusCode, r.Code, status, code)
	}
}

func listKeys(t *testing.T, c *minio.Core, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	for o := range c.Client.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list %q: %v", prefix, o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

// TestS3 checks the basics a test relies on: signed requests work, a
// wrong secret is refused, and data outlives a crash of the server.
func TestS3(t *testing.T) {
	s := StartS3(t)
	c := s3Client(t, s, s.SecretKey(), 0)
	ctx := context.Background()
	b := s.Bucket()

	data := []byte("hello, object storage")
	putBytes(t, c, b, "dir/hello", data)
	if got := getBytes(t, c, b, "dir/hello"); !bytes.Equal(got, data) {
		t.Fatalf("get: %q, want %q", got, data)
	}
	if keys := listKeys(t, c, b, ""); !slices.Equal(keys, []string{"dir/hello"}) {
		t.Fatalf("list: %q, want only dir/hello (the start-up probe must be gone)", keys)
	}

	t.Run("WrongSecret", func(t *testing.T) {
		bad := s3Client(t, s, s.SecretKey()+"x", 1)
		_, err := bad.Client.PutObject(ctx, b, "intruder", strings.NewReader("x"), 1, minio.PutObjectOptions{})
		wantS3Error(t, "put with a wrong secret", err, http.StatusForbidden, "SignatureDoesNotMatch")
		_, err = bad.Client.StatObject(ctx, b, "dir/hello", minio.StatObjectOptions{})
		if r := minio.ToErrorResponse(err); r.StatusCode != http.StatusForbidden {
			t.Fatalf("HEAD with a wrong secret: %v (status %d), want 403", err, r.StatusCode)
		}
		anon, err := minio.New(s.Host(), &minio.Options{BucketLookup: minio.BucketLookupPath, Region: s.Region(), MaxRetries: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = anon.GetObject(ctx, b, "dir/hello", minio.GetObjectOptions{})
		if err == nil {
			_, err = anon.StatObject(ctx, b, "dir/hello", minio.StatObjectOptions{})
		}
		wantS3Error(t, "anonymous HEAD", err, http.StatusForbidden, "AccessDenied")
	})

	t.Run("Restart", func(t *testing.T) {
		start := time.Now()
		s.Restart(t)
		t.Logf("Restart took %v", time.Since(start).Round(time.Millisecond))
		if got := getBytes(t, c, b, "dir/hello"); !bytes.Equal(got, data) {
			t.Fatalf("get after restart: %q, want %q", got, data)
		}
		// And it takes writes again.
		putBytes(t, c, b, "dir/after", []byte("after"))
		if got := getBytes(t, c, b, "dir/after"); string(got) != "after" {
			t.Fatalf("get after restart: %q", got)
		}
	})

	t.Run("Env", func(t *testing.T) {
		env := strings.Join(s.Env(), "\n")
		for _, want := range []string{"AWS_ENDPOINT_URL=http://127.0.0.1:", "AWS_ACCESS_KEY_ID=" + s.AccessKey(),
			"AWS_SECRET_ACCESS_KEY=" + s.SecretKey(), "AWS_REGION=" + s.Region()} {
			if !strings.Contains(env, want) {
				t.Errorf("Env() lacks %q:\n%s", want, env)
			}
		}
	})
}

// TestS3Capabilities records what this SeaweedFS does with the requests
// a farm of bitsservers sharing a bucket would rely on. Each subtest
// asserts what was found, so a new SeaweedFS that behaves otherwise
// fails here rather than in a test of the farm. docs/bitsserver.md ("S3
// test server") sums them up.
func TestS3Capabilities(t *testing.T) {
	s := StartS3(t)
	c := s3Client(t, s, s.SecretKey(), 1)
	ctx := context.Background()
	b := s.Bucket()

	t.Run("IfNoneMatchStar", func(t *testing.T) {
		var opts minio.PutObjectOptions
		opts.SetMatchETagExcept("*")
		if _, err := c.Client.PutObject(ctx, b, "inm", strings.NewReader("first"), 5, opts); err != nil {
			t.Fatalf("create-only put of an absent key: %v", err)
		}
		_, err := c.Client.PutObject(ctx, b, "inm", strings.NewReader("second"), 6, opts)
		wantS3Error(t, "second create-only put", err, http.StatusPreconditionFailed, "PreconditionFailed")
		if got := getBytes(t, c, b, "inm"); string(got) != "first" {
			t.Fatalf("after the refused put: %q, want first", got)
		}
	})

	t.Run("IfMatch", func(t *testing.T) {
		v1 := putBytes(t, c, b, "cas", []byte("v1"))
		var opts minio.PutObjectOptions
		opts.SetMatchETag(v1.ETag)
		v2, err := c.Client.PutObject(ctx, b, "cas", strings.NewReader("v2"), 2, opts)
		if err != nil {
			t.Fatalf("put with the current ETag: %v", err)
		}
		if v2.ETag == v1.ETag {
			t.Fatalf("v2 has v1's ETag %s", v1.ETag)
		}
		// v1's ETag is stale now.
		_, err = c.Client.PutObject(ctx, b, "cas", strings.NewReader("v3"), 2, opts)
		wantS3Error(t, "put with a stale ETag", err, http.StatusPreconditionFailed, "PreconditionFailed")
		if got := getBytes(t, c, b, "cas"); string(got) != "v2" {
			t.Fatalf("after the refused put: %q, want v2", got)
		}
		// If-Match on a key that does not exist.
		var absent minio.PutObjectOptions
		absent.SetMatchETag(v1.ETag)
		_, err = c.Client.PutObject(ctx, b, "cas-absent", strings.NewReader("x"), 1, absent)
		wantS3Error(t, "If-Match put of an absent key", err, http.StatusNotFound, "NoSuchKey")
	})

	// A farm relies on the conditions holding when servers race: of
	// several create-only PUTs of one key, or several PUTs with the same
	// If-Match ETag, exactly one may win.
	t.Run("ConditionalRace", func(t *testing.T) {
		const n = 5
		race := func(key string, opts minio.PutObjectOptions) (winner []byte, refused int) {
			t.Helper()
			bodies := make([][]byte, n)
			errs := make([]error, n)
			for i := range bodies {
				bodies[i] = randomBytes(t, 256<<10)
			}
			start := time.Now()
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					_, errs[i] = c.Client.PutObject(ctx, b, key, bytes.NewReader(bodies[i]), int64(len(bodies[i])), opts)
				})
			}
			wg.Wait()
			// Contended PUTs of one key wait for SeaweedFS's per-object
			// write lock, which a waiter polls once a second: worth
			// knowing when a farm's servers race.
			t.Logf("%d conditional PUTs of %s at once took %v", n, key, time.Since(start).Round(time.Millisecond))
			for i, err := range errs {
				switch {
				case err == nil && winner != nil:
					t.Fatalf("%s: two conditional PUTs succeeded", key)
				case err == nil:
					winner = bodies[i]
				default:
					wantS3Error(t, key+": a losing conditional PUT", err, http.StatusPreconditionFailed, "PreconditionFailed")
					refused++
				}
			}
			if winner == nil {
				t.Fatalf("%s: no conditional PUT succeeded", key)
			}
			if got := getBytes(t, c, b, key); !bytes.Equal(got, winner) {
				t.Fatalf("%s: the object is not the winner's body", key)
			}
			return winner, refused
		}
		var create minio.PutObjectOptions
		create.SetMatchETagExcept("*")
		if _, refused := race("race-create", create); refused != n-1 {
			t.Fatalf("create-only race: %d refused, want %d", refused, n-1)
		}
		st, err := c.Client.StatObject(ctx, b, "race-create", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var cas minio.PutObjectOptions
		cas.SetMatchETag(st.ETag)
		if _, refused := race("race-create", cas); refused != n-1 {
			t.Fatalf("If-Match race: %d refused, want %d", refused, n-1)
		}
	})

	t.Run("UploadPartCopy", func(t *testing.T) {
		big := randomBytes(t, 6*mib+123)
		small := randomBytes(t, 1000)
		putBytes(t, c, b, "src/big", big)
		putBytes(t, c, b, "src/small", small)

		part2 := randomBytes(t, 5*mib)
		id, err := c.NewMultipartUpload(ctx, b, "composed", minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Part 1: a 5 MiB range of big, from offset 7 (UploadPartCopy with
		// x-amz-copy-source-range). Part 2: 5 MiB uploaded. Part 3, the
		// last: all of small, copied.
		p1, err := c.CopyObjectPart(ctx, b, "src/big", b, "composed", id, 1, 7, 5*mib, nil)
		if err != nil {
			t.Fatalf("UploadPartCopy of a range: %v", err)
		}
		p2, err := c.PutObjectPart(ctx, b, "composed", id, 2, bytes.NewReader(part2), int64(len(part2)), minio.PutObjectPartOptions{})
		if err != nil {
			t.Fatalf("UploadPart: %v", err)
		}
		p3, err := c.CopyObjectPart(ctx, b, "src/small", b, "composed", id, 3, 0, int64(len(small)), nil)
		if err != nil {
			t.Fatalf("UploadPartCopy of a whole object: %v", err)
		}
		if _, err := c.CompleteMultipartUpload(ctx, b, "composed", id, []minio.CompletePart{
			p1, {PartNumber: 2, ETag: p2.ETag}, p3,
		}, minio.PutObjectOptions{}); err != nil {
			t.Fatalf("CompleteMultipartUpload: %v", err)
		}
		want := slices.Concat(big[7:7+5*mib], part2, small)
		if got := getBytes(t, c, b, "composed"); !bytes.Equal(got, want) {
			t.Fatalf("composed object: %d bytes, want %d (the parts in order)", len(got), len(want))
		}

		// The same through minio-go's ComposeObject, with source ranges.
		src1 := minio.CopySrcOptions{Bucket: b, Object: "src/big", MatchRange: true, Start: mib, End: 6*mib - 1}
		src2 := minio.CopySrcOptions{Bucket: b, Object: "src/small"}
		if _, err := c.Client.ComposeObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "composed2"}, src1, src2); err != nil {
			t.Fatalf("ComposeObject: %v", err)
		}
		if got, want := getBytes(t, c, b, "composed2"), slices.Concat(big[mib:6*mib], small); !bytes.Equal(got, want) {
			t.Fatalf("ComposeObject: %d bytes, want %d", len(got), len(want))
		}
		// minio-go itself refuses a small source that is not the last,
		// before asking the server.
		_, err = c.Client.ComposeObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "composed3"}, src2, src1)
		if err == nil || !strings.Contains(err.Error(), "too small") {
			t.Fatalf("ComposeObject with a small first source: %v, want minio-go's \"too small\"", err)
		}

		// A plain server-side copy of a whole object.
		if _, err := c.Client.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "copied"}, minio.CopySrcOptions{Bucket: b, Object: "src/small"}); err != nil {
			t.Fatalf("CopyObject: %v", err)
		}
		if got := getBytes(t, c, b, "copied"); !bytes.Equal(got, small) {
			t.Fatalf("CopyObject: %d bytes, want %d", len(got), len(small))
		}
	})

	t.Run("MinimumPartSize", func(t *testing.T) {
		putBytes(t, c, b, "src/two", randomBytes(t, 2*mib))
		// A copied part of 1 MiB, not the last.
		id, err := c.NewMultipartUpload(ctx, b, "small-parts", minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p1, err := c.CopyObjectPart(ctx, b, "src/two", b, "small-parts", id, 1, 0, mib, nil)
		if err != nil {
			t.Fatalf("UploadPartCopy of 1 MiB: %v", err)
		}
		p2, err := c.PutObjectPart(ctx, b, "small-parts", id, 2, strings.NewReader("last"), 4, minio.PutObjectPartOptions{})
		if err != nil {
			t.Fatalf("UploadPart: %v", err)
		}
		_, err = c.CompleteMultipartUpload(ctx, b, "small-parts", id, []minio.CompletePart{p1, {PartNumber: 2, ETag: p2.ETag}}, minio.PutObjectOptions{})
		wantS3Error(t, "complete with a 1 MiB copied first part", err, http.StatusBadRequest, "EntityTooSmall")

		// Uploaded parts: 1 KiB, then the last.
		id2, err := c.NewMultipartUpload(ctx, b, "small-parts2", minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		q1, err := c.PutObjectPart(ctx, b, "small-parts2", id2, 1, bytes.NewReader(randomBytes(t, 1024)), 1024, minio.PutObjectPartOptions{})
		if err != nil {
			t.Fatalf("UploadPart of 1 KiB: %v", err)
		}
		q2, err := c.PutObjectPart(ctx, b, "small-parts2", id2, 2, strings.NewReader("last"), 4, minio.PutObjectPartOptions{})
		if err != nil {
			t.Fatalf("UploadPart: %v", err)
		}
		_, err = c.CompleteMultipartUpload(ctx, b, "small-parts2", id2, []minio.CompletePart{{PartNumber: 1, ETag: q1.ETag}, {PartNumber: 2, ETag: q2.ETag}}, minio.PutObjectOptions{})
		wantS3Error(t, "complete with a 1 KiB uploaded first part", err, http.StatusBadRequest, "EntityTooSmall")
		// The refused upload is still open, and completes once the small
		// part is replaced by one of 5 MiB.
		q1b := randomBytes(t, 5*mib)
		q1, err = c.PutObjectPart(ctx, b, "small-parts2", id2, 1, bytes.NewReader(q1b), int64(len(q1b)), minio.PutObjectPartOptions{})
		if err != nil {
			t.Fatalf("UploadPart of 5 MiB replacing part 1: %v", err)
		}
		if _, err := c.CompleteMultipartUpload(ctx, b, "small-parts2", id2, []minio.CompletePart{{PartNumber: 1, ETag: q1.ETag}, {PartNumber: 2, ETag: q2.ETag}}, minio.PutObjectOptions{}); err != nil {
			t.Fatalf("complete after replacing the small part: %v", err)
		}
		if got := getBytes(t, c, b, "small-parts2"); !bytes.Equal(got, append(q1b, "last"...)) {
			t.Fatalf("small-parts2: %d bytes, want %d", len(got), len(q1b)+4)
		}
	})

	t.Run("RangedGetAndHead", func(t *testing.T) {
		data := randomBytes(t, 100000)
		put := putBytes(t, c, b, "ranged", data)
		var opts minio.GetObjectOptions
		if err := opts.SetRange(1000, 1999); err != nil {
			t.Fatal(err)
		}
		body, info, h, err := c.GetObject(ctx, b, "ranged", opts)
		if err != nil {
			t.Fatalf("ranged get: %v", err)
		}
		got, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data[1000:2000]) {
			t.Fatalf("ranged get: %d bytes, not bytes 1000-1999", len(got))
		}
		if cr := h.Get("Content-Range"); cr != "bytes 1000-1999/100000" {
			t.Fatalf("Content-Range %q", cr)
		}
		if info.ETag != put.ETag {
			t.Fatalf("ranged get ETag %q, the put's %q", info.ETag, put.ETag)
		}
		if info.LastModified.IsZero() || h.Get("Last-Modified") == "" {
			t.Fatal("ranged get without Last-Modified")
		}
		st, err := c.Client.StatObject(ctx, b, "ranged", minio.StatObjectOptions{})
		if err != nil {
			t.Fatalf("HEAD: %v", err)
		}
		if st.Size != int64(len(data)) || st.ETag != put.ETag || !st.LastModified.Equal(info.LastModified) {
			t.Fatalf("HEAD: size %d, ETag %q, Last-Modified %v; want %d, %q, %v", st.Size, st.ETag, st.LastModified, len(data), put.ETag, info.LastModified)
		}
		_, err = c.Client.StatObject(ctx, b, "no-such-key", minio.StatObjectOptions{})
		wantS3Error(t, "HEAD of an absent key", err, http.StatusNotFound, "NoSuchKey")
		// A range beyond the end.
		var past minio.GetObjectOptions
		past.SetRange(200000, 200010)
		_, _, _, err = c.GetObject(ctx, b, "ranged", past)
		wantS3Error(t, "range past the end", err, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
	})

	t.Run("ListAndDelete", func(t *testing.T) {
		for _, k := range []string{"sessions/a/1", "sessions/a/2", "sessions/b/1", "other"} {
			putBytes(t, c, b, k, []byte(k))
		}
		if keys := listKeys(t, c, b, "sessions/a/"); !slices.Equal(keys, []string{"sessions/a/1", "sessions/a/2"}) {
			t.Fatalf("list sessions/a/: %q", keys)
		}
		if keys := listKeys(t, c, b, "sessions/"); len(keys) != 3 {
			t.Fatalf("list sessions/: %q", keys)
		}
		if err := c.Client.RemoveObject(ctx, b, "sessions/a/1", minio.RemoveObjectOptions{}); err != nil {
			t.Fatalf("DeleteObject: %v", err)
		}
		if err := c.Client.RemoveObject(ctx, b, "sessions/never", minio.RemoveObjectOptions{}); err != nil {
			t.Fatalf("DeleteObject of an absent key: %v", err)
		}
		objs := make(chan minio.ObjectInfo, 3)
		for _, k := range []string{"sessions/a/2", "sessions/b/1", "sessions/never"} {
			objs <- minio.ObjectInfo{Key: k}
		}
		close(objs)
		for e := range c.Client.RemoveObjects(ctx, b, objs, minio.RemoveObjectsOptions{}) {
			t.Fatalf("DeleteObjects: %s: %v", e.ObjectName, e.Err)
		}
		if keys := listKeys(t, c, b, "sessions/"); len(keys) != 0 {
			t.Fatalf("list after deletes: %q", keys)
		}
		if keys := listKeys(t, c, b, "oth"); !slices.Equal(keys, []string{"other"}) {
			t.Fatalf("list oth: %q", keys)
		}
	})
}

// dataBytes is the size of the volume files under dir: what the volume
// server has written.
func dataBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".dat") {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// TestS3KilledDuringPut kills SeaweedFS while two PUTs are half sent, one
// of a new key and one replacing an object, and checks what is there
// after a restart: the new key absent, the old object whole.
func TestS3KilledDuringPut(t *testing.T) {
	s := StartS3(t)
	c := s3Client(t, s, s.SecretKey(), 1)
	ctx := context.Background()
	b := s.Bucket()
	old := randomBytes(t, 3*mib)
	putBytes(t, c, b, "replaced", old)

	const size = 24 * mib
	const sent = 16 * mib
	before := dataBytes(t, s.data)
	type result struct {
		key string
		err error
	}
	done := make(chan result, 2)
	var writers []*io.PipeWriter
	for _, key := range []string{"fresh", "replaced"} {
		r, w := io.Pipe()
		writers = append(writers, w)
		go func() {
			_, err := c.PutObject(ctx, b, key, r, size, "", "", minio.PutObjectOptions{})
			done <- result{key, err}
		}()
	}
	chunk := randomBytes(t, sent)
	for _, w := range writers {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	// The gateway writes a PUT's body to the volume server in chunks as
	// it comes: the kill must come after some of it is there, so that an
	// absent object shows that the gateway never links a partial body,
	// not merely that nothing had been stored yet.
	Eventually(t, "8 MiB of the cut PUTs on the volume server", func() bool {
		return dataBytes(t, s.data)-before >= 8*mib
	})
	t.Logf("volume files grew by %d MiB of the %d MiB sent before the kill", (dataBytes(t, s.data)-before)/mib, 2*sent/mib)
	s.Kill(t)
	for _, w := range writers {
		w.CloseWithError(errors.New("server killed"))
	}
	for range 2 {
		r := <-done
		if r.err == nil {
			t.Fatalf("put of %s succeeded though the server was killed mid-body", r.key)
		}
		t.Logf("put of %s: %v", r.key, r.err)
	}
	// Restart by hand to see each stage: the gateway answering, reads of
	// stored objects, and the first write, which the master holds for its
	// warm-up (15 s from its election) and the gateway waits out.
	start := time.Now()
	if err := s.start(); err != nil {
		t.Fatalf("restart: %v\n%s", err, s.Log())
	}
	t.Logf("restart: ListBuckets answered after %v", time.Since(start).Round(time.Millisecond))
	Eventually(t, "a read of a stored object after the restart", func() bool {
		_, err := c.Client.StatObject(ctx, b, "replaced", minio.StatObjectOptions{})
		return err == nil
	})
	t.Logf("restart: a stored object's HEAD answered after %v", time.Since(start).Round(time.Millisecond))
	putStart := time.Now()
	putBytes(t, c, b, "after-restart", []byte("after"))
	held, total := time.Since(putStart), time.Since(start)
	t.Logf("restart: the first PUT took %v, done %v after the restart", held.Round(time.Millisecond), total.Round(time.Millisecond))
	if total < 10*time.Second {
		t.Fatalf("the first PUT was done %v after the restart: no warm-up hold any more? (update Restart's and waitReady's comments)", total)
	}
	if err := c.Client.RemoveObject(ctx, b, "after-restart", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	_, err := c.Client.StatObject(ctx, b, "fresh", minio.StatObjectOptions{})
	wantS3Error(t, "HEAD of the new key whose PUT was cut", err, http.StatusNotFound, "NoSuchKey")
	if got := getBytes(t, c, b, "replaced"); !bytes.Equal(got, old) {
		t.Fatalf("the replaced object is %d bytes after the cut PUT, want the old %d", len(got), len(old))
	}
	if keys := listKeys(t, c, b, ""); !slices.Equal(keys, []string{"replaced"}) {
		t.Fatalf("list after the cut PUTs: %q", keys)
	}
}
