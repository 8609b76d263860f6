package server

// This file keeps upload sessions and finished uploads in S3-compatible
// object storage, so that several servers (a farm) share them. Layout,
// under the store's prefix:
//
//	.bits-sessions/<key>/session.json         the session's record
//	.bits-sessions/<key>/frag/<first>-<last>  bytes first..last (20 digits each)
//	<folder>/<name>                           finished uploads
//
// where <folder> is the virtual directory's Folder, a folder in the store.
//
// No server keeps anything about a session in memory: the record is
// created with If-None-Match: * and changed with If-Match: <ETag>, and
// what a session has received is worked out from the fragment objects,
// whose PUTs are all or nothing. So any server can take any packet, and
// a server that dies mid-fragment leaves nothing half written.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where the shared store is and how to sign requests.
type S3Config struct {
	// Endpoint is the store's URL, such as http://127.0.0.1:8333; empty
	// is AWS S3 itself.
	Endpoint  string
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string
	// Prefix is put before every object name; empty or ending in "/".
	Prefix string
}

// ParseStoreURL reads s3://BUCKET/PREFIX into a bucket and a prefix that
// is empty or ends in a slash.
func ParseStoreURL(s string) (bucket, prefix string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("store %q: want s3://BUCKET/PREFIX", s)
	}
	prefix = strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	return u.Host, prefix, nil
}

// An S3Store is the shared store of a farm.
type S3Store struct {
	core   *minio.Core
	bucket string
	prefix string
}

// s3Timeout bounds one request to the store. It allows for a store that
// holds writes for a while after a restart (SeaweedFS: 15 s).
const s3Timeout = 2 * time.Minute

// minPartSize is S3's smallest part of a multipart upload but the last.
const minPartSize = 5 << 20

// OpenS3Store makes a client of the store and checks that the bucket is
// there and the credentials are good.
func OpenS3Store(cfg S3Config) (*S3Store, error) {
	host, secure, lookup := "s3.amazonaws.com", true, minio.BucketLookupAuto
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("S3 endpoint %q: want http://host:port or https://host:port", cfg.Endpoint)
		}
		// Servers other than AWS rarely have a DNS name per bucket.
		host, secure, lookup = u.Host, u.Scheme == "https", minio.BucketLookupPath
	}
	if cfg.Bucket == "" {
		return nil, errors.New("S3 store: no bucket")
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	core, err := minio.NewCore(host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("S3 store: %w", err)
	}
	st := &S3Store{core: core, bucket: cfg.Bucket, prefix: cfg.Prefix}
	ctx, cancel := context.WithTimeout(context.Background(), s3Timeout)
	defer cancel()
	ok, err := core.Client.BucketExists(ctx, cfg.Bucket)
	switch {
	case err != nil:
		return nil, fmt.Errorf("S3 store: bucket %s: %w", cfg.Bucket, err)
	case !ok:
		return nil, fmt.Errorf("S3 store: bucket %s does not exist", cfg.Bucket)
	}
	return st, nil
}

func (st *S3Store) sessionsPrefix() string       { return st.prefix + stateDirName + "/" }
func (st *S3Store) recordName(key string) string { return st.sessionsPrefix() + key + "/session.json" }
func (st *S3Store) fragPrefix(key string) string { return st.sessionsPrefix() + key + "/frag/" }

// fileName is where a finished upload to a virtual directory is stored:
// name in the folder of the store that the virtual directory names.
func (st *S3Store) fileName(folder, name string) string {
	if folder = storeFolder(folder); folder != "" {
		return st.prefix + folder + "/" + name
	}
	return st.prefix + name
}

// storeFolder is a virtual directory's folder as a folder in the store:
// slash-separated, without a slash at either end; "" is the top.
func storeFolder(folder string) string {
	return strings.Trim(path.Clean("/"+folder), "/")
}

// checkStoreFolder refuses a folder that is not plainly a folder in the
// store, or that would hold the sessions.
func checkStoreFolder(folder string) error {
	f := strings.Trim(folder, "/")
	if f == "" || f == "." {
		return nil
	}
	for _, el := range strings.Split(f, "/") {
		if el == "" || el == "." || el == ".." || strings.ContainsAny(el, "\\\x00") || reservedElement(el) {
			return fmt.Errorf("folder %q in the store: want a plain path such as uploads or a/b", folder)
		}
	}
	return nil
}

// sessionMeta is the user metadata of a finished upload that names the
// session it came from, so a Close-Session sent again knows it is done.
const sessionMeta = "Bits-Session"

var (
	errStoreConflict = errors.New("the record changed meanwhile")
	errStoreExists   = errors.New("the object exists")
)

func isS3Status(err error, status int) bool {
	return err != nil && minio.ToErrorResponse(err).StatusCode == status
}

func isS3NotFound(err error) bool {
	r := minio.ToErrorResponse(err)
	return err != nil && (r.StatusCode == http.StatusNotFound || r.Code == "NoSuchKey")
}

// createRecord stores a new session's record, only if none has its key.
func (st *S3Store) createRecord(ctx context.Context, s *session) (string, error) {
	return st.putRecord(ctx, s, "")
}

// updateRecord replaces a record only if it is still the one with etag.
func (st *S3Store) updateRecord(ctx context.Context, s *session, etag string) (string, error) {
	return st.putRecord(ctx, s, etag)
}

func (st *S3Store) putRecord(ctx context.Context, s *session, etag string) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	opts := minio.PutObjectOptions{ContentType: "application/json", DisableMultipart: true}
	if etag == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(etag)
	}
	info, err := st.core.Client.PutObject(ctx, st.bucket, st.recordName(s.Key), bytes.NewReader(b), int64(len(b)), opts)
	switch {
	case isS3Status(err, http.StatusPreconditionFailed), etag != "" && isS3NotFound(err):
		return "", errStoreConflict
	case err != nil:
		return "", err
	}
	return info.ETag, nil
}

// loadRecord reads a session's record and its ETag.
func (st *S3Store) loadRecord(ctx context.Context, key string) (*session, string, error) {
	body, info, _, err := st.core.GetObject(ctx, st.bucket, st.recordName(key), minio.GetObjectOptions{})
	if isS3NotFound(err) {
		return nil, "", errNoSession
	}
	if err != nil {
		return nil, "", err
	}
	defer body.Close()
	var s session
	if err := json.NewDecoder(&limitedReader{body, maxMetaSize}).Decode(&s); err != nil || s.Key != key {
		return nil, "", errNoSession
	}
	return &s, info.ETag, nil
}

// A fragObject is one stored fragment: bytes first..last of the upload.
type fragObject struct {
	first, last int64
	name        string
	modified    time.Time
}

// listFragments returns a session's fragments sorted by first byte.
func (st *S3Store) listFragments(ctx context.Context, key string) ([]fragObject, error) {
	var frags []fragObject
	prefix := st.fragPrefix(key)
	for o := range st.core.Client.ListObjects(ctx, st.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		a, b, ok := strings.Cut(strings.TrimPrefix(o.Key, prefix), "-")
		first, err1 := strconv.ParseInt(a, 10, 64)
		last, err2 := strconv.ParseInt(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || first < 0 || first > last || o.Size != last-first+1 {
			continue // not ours
		}
		frags = append(frags, fragObject{first: first, last: last, name: o.Key, modified: o.LastModified})
	}
	slices.SortFunc(frags, func(x, y fragObject) int {
		if c := compareInt64(x.first, y.first); c != 0 {
			return c
		}
		return compareInt64(y.last, x.last)
	})
	return frags, nil
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// A piece is the part of a fragment object that a finished upload takes:
// off bytes in, n bytes long.
type piece struct {
	frag   fragObject
	off, n int64
}

// pieces covers the upload from byte 0 with the fragments, without
// overlap, as far as they go without a gap. Their total length is what
// the session has received.
func pieces(frags []fragObject) []piece {
	var ps []piece
	var pos int64
	for {
		best := -1
		for i, f := range frags {
			if f.first <= pos && f.last >= pos && (best < 0 || f.last > frags[best].last) {
				best = i
			}
		}
		if best < 0 {
			return ps
		}
		f := frags[best]
		ps = append(ps, piece{frag: f, off: pos - f.first, n: f.last + 1 - pos})
		pos = f.last + 1
	}
}

func received(frags []fragObject) int64 {
	var n int64
	for _, p := range pieces(frags) {
		n += p.n
	}
	return n
}

func (st *S3Store) fragName(key string, first, last int64) string {
	return fmt.Sprintf("%s%020d-%020d", st.fragPrefix(key), first, last)
}

// putFragment stores bytes first..last read from r. If a fragment of the
// same range is there already (another server took the same bytes), so
// much the better. r must hold exactly the bytes: a short body fails the
// PUT and stores nothing.
func (st *S3Store) putFragment(ctx context.Context, key string, first, last int64, r io.Reader) error {
	name := st.fragName(key, first, last)
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true}
	opts.SetMatchETagExcept("*")
	_, err := st.core.Client.PutObject(ctx, st.bucket, name, r, last-first+1, opts)
	if isS3Status(err, http.StatusPreconditionFailed) {
		return nil
	}
	return err
}

func (st *S3Store) replyName(key string) string {
	return st.sessionsPrefix() + key + "/" + replyFileName
}

// putReply stores the application's reply to a session.
func (st *S3Store) putReply(ctx context.Context, key string, reply []byte) error {
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true}
	_, err := st.core.Client.PutObject(ctx, st.bucket, st.replyName(key), bytes.NewReader(reply), int64(len(reply)), opts)
	return err
}

// removeSession deletes a session's objects, then its record, so that a
// record is never left pointing at half its data.
func (st *S3Store) removeSession(ctx context.Context, key string) error {
	var objs []fragObject
	record := st.recordName(key)
	for o := range st.core.Client.ListObjects(ctx, st.bucket, minio.ListObjectsOptions{Prefix: st.sessionsPrefix() + key + "/", Recursive: true}) {
		if o.Err != nil {
			return o.Err
		}
		if o.Key != record {
			objs = append(objs, fragObject{name: o.Key})
		}
	}
	if err := st.removeObjects(ctx, objs); err != nil {
		return err
	}
	err := st.core.Client.RemoveObject(ctx, st.bucket, record, minio.RemoveObjectOptions{})
	if isS3NotFound(err) {
		return nil
	}
	return err
}

func (st *S3Store) removeObjects(ctx context.Context, frags []fragObject) error {
	if len(frags) == 0 {
		return nil
	}
	ch := make(chan minio.ObjectInfo, len(frags))
	for _, f := range frags {
		ch <- minio.ObjectInfo{Key: f.name}
	}
	close(ch)
	for e := range st.core.Client.RemoveObjects(ctx, st.bucket, ch, minio.RemoveObjectsOptions{}) {
		if e.Err != nil && !isS3NotFound(e.Err) {
			return e.Err
		}
	}
	return nil
}

// finishedBy returns the session a finished upload came from, "" if it
// is absent or came otherwise; exists says whether it is there.
func (st *S3Store) finishedBy(ctx context.Context, name string) (key string, exists bool, err error) {
	info, err := st.core.Client.StatObject(ctx, st.bucket, name, minio.StatObjectOptions{})
	if isS3NotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return info.UserMetadata[sessionMeta], true, nil
}

// assemble writes the upload that the fragments cover, total bytes, as
// the object name. Fragments of 5 MiB or more are copied within the store
// (UploadPartCopy); runs of smaller ones are read and sent as parts of at
// least 5 MiB, S3's minimum for a part but the last. An upload under
// 5 MiB is one PUT. Without overwrite, the object is written only if
// absent (If-None-Match: *): errStoreExists otherwise.
func (st *S3Store) assemble(ctx context.Context, name, key string, frags []fragObject, total int64, overwrite bool) error {
	ps := pieces(frags)
	opts := minio.PutObjectOptions{
		ContentType:  "application/octet-stream",
		UserMetadata: map[string]string{sessionMeta: key},
	}
	if !overwrite {
		opts.SetMatchETagExcept("*")
	}
	conflict := func(err error) error {
		if isS3Status(err, http.StatusPreconditionFailed) {
			return errStoreExists
		}
		return err
	}
	if total < minPartSize {
		var buf bytes.Buffer
		for _, p := range ps {
			if err := st.readPiece(ctx, &buf, p.frag, p.off, p.n); err != nil {
				return err
			}
		}
		if int64(buf.Len()) != total {
			return fmt.Errorf("the fragments hold %d bytes of %d", buf.Len(), total)
		}
		opts.DisableMultipart = true
		_, err := st.core.Client.PutObject(ctx, st.bucket, name, &buf, total, opts)
		return conflict(err)
	}

	id, err := st.core.NewMultipartUpload(ctx, st.bucket, name, opts)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			st.core.AbortMultipartUpload(context.WithoutCancel(ctx), st.bucket, name, id)
		}
	}()
	var parts []minio.CompletePart
	var buf bytes.Buffer
	var size int64
	flush := func() error {
		if buf.Len() == 0 {
			return nil
		}
		n := buf.Len()
		part, err := st.core.PutObjectPart(ctx, st.bucket, name, id, len(parts)+1, bytes.NewReader(buf.Bytes()), int64(n), minio.PutObjectPartOptions{})
		if err != nil {
			return err
		}
		parts = append(parts, minio.CompletePart{PartNumber: part.PartNumber, ETag: part.ETag})
		size += int64(n)
		buf.Reset()
		return nil
	}
	copyPart := func(f fragObject, off, n int64) error {
		part, err := st.core.CopyObjectPart(ctx, st.bucket, f.name, st.bucket, name, id, len(parts)+1, off, n, nil)
		if err != nil {
			return err
		}
		parts = append(parts, part)
		size += n
		return nil
	}
	for _, p := range ps {
		off, n := p.off, p.n
		if buf.Len() > 0 {
			// Top the small run up to a part's minimum from this piece.
			take := min(n, int64(minPartSize-buf.Len()))
			if err := st.readPiece(ctx, &buf, p.frag, off, take); err != nil {
				return err
			}
			off, n = off+take, n-take
			if n > 0 && n < minPartSize {
				if err := st.readPiece(ctx, &buf, p.frag, off, n); err != nil {
					return err
				}
				off, n = off+n, 0
			}
			if buf.Len() >= minPartSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		switch {
		case n >= minPartSize:
			if err := copyPart(p.frag, off, n); err != nil {
				return err
			}
		case n > 0:
			if err := st.readPiece(ctx, &buf, p.frag, off, n); err != nil {
				return err
			}
			if buf.Len() >= minPartSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if size != total {
		return fmt.Errorf("the fragments hold %d bytes of %d", size, total)
	}
	_, err = st.core.CompleteMultipartUpload(ctx, st.bucket, name, id, parts, opts)
	if err != nil {
		return conflict(err)
	}
	done = true
	return nil
}

// readPiece appends n bytes of a fragment object, from off, to buf.
func (st *S3Store) readPiece(ctx context.Context, buf *bytes.Buffer, f fragObject, off, n int64) error {
	if n == 0 {
		return nil
	}
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(off, off+n-1); err != nil {
		return err
	}
	body, _, _, err := st.core.GetObject(ctx, st.bucket, f.name, opts)
	if err != nil {
		return err
	}
	defer body.Close()
	got, err := io.Copy(buf, io.LimitReader(body, n))
	if err == nil && got != n {
		err = fmt.Errorf("fragment %s: %d bytes read of %d", f.name, got, n)
	}
	return err
}

// A pieceReader reads the upload the pieces make, one ranged GET per
// piece, for the application's notification by value.
type pieceReader struct {
	ctx context.Context
	st  *S3Store
	ps  []piece
	cur io.ReadCloser
}

func (r *pieceReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if len(r.ps) == 0 {
				return 0, io.EOF
			}
			pc := r.ps[0]
			r.ps = r.ps[1:]
			opts := minio.GetObjectOptions{}
			if err := opts.SetRange(pc.off, pc.off+pc.n-1); err != nil {
				return 0, err
			}
			body, _, _, err := r.st.core.GetObject(r.ctx, r.st.bucket, pc.frag.name, opts)
			if err != nil {
				return 0, err
			}
			r.cur = struct {
				io.Reader
				io.Closer
			}{io.LimitReader(body, pc.n), body}
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			r.cur.Close()
			r.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (r *pieceReader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}

// sessionKeys lists the keys of the sessions in the store.
func (st *S3Store) sessionKeys(ctx context.Context) ([]string, error) {
	var keys []string
	prefix := st.sessionsPrefix()
	for o := range st.core.Client.ListObjects(ctx, st.bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			return nil, o.Err
		}
		if key, ok := parseSessionID(strings.TrimSuffix(strings.TrimPrefix(o.Key, prefix), "/")); ok {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// abortStaleUploads ends multipart uploads under the prefix begun before
// cutoff: assemblies a crashed server left behind.
func (st *S3Store) abortStaleUploads(ctx context.Context, cutoff time.Time) error {
	for u := range st.core.Client.ListIncompleteUploads(ctx, st.bucket, st.prefix, true) {
		if u.Err != nil {
			return u.Err
		}
		if u.Initiated.Before(cutoff) {
			if err := st.core.AbortMultipartUpload(ctx, st.bucket, u.Key, u.UploadID); err != nil && !isS3NotFound(err) {
				return err
			}
		}
	}
	return nil
}

// openFile opens a finished upload for reading; nil, nil if absent.
func (st *S3Store) openFile(ctx context.Context, name string) (*minio.Object, minio.ObjectInfo, error) {
	o, err := st.core.Client.GetObject(ctx, st.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, minio.ObjectInfo{}, err
	}
	info, err := o.Stat()
	if err != nil {
		o.Close()
		if isS3NotFound(err) {
			return nil, minio.ObjectInfo{}, nil
		}
		return nil, minio.ObjectInfo{}, err
	}
	return o, info, nil
}
