package testenv

// This file runs a real S3-compatible object store, SeaweedFS, on loopback
// ports, so that the code that keeps bitsserver's upload sessions in
// object storage (several servers sharing one bucket) is tested against
// a server that is not ours, with signed requests, and across a crash of
// the store (Kill, Restart).
//
// SeaweedFS is one Go binary, `weed`; `weed server -s3` runs its master,
// volume server, filer and S3 gateway in one process. It is not packaged
// by Debian, and `go install` refuses its module (a replace directive), so
// scripts/s3server.sh builds the pinned version once into a cache outside
// the work tree (`make deps` runs it). Tests find it there, or at $BITS_WEED.
//
// Everything the server writes is in the test's temporary folder, except
// the Unix sockets SeaweedFS names after its ports in /tmp, which the
// cleanup removes. Its telemetry and its Iceberg and Lance catalogue ports
// are turned off, so nothing listens beyond the ports chosen here and
// nothing is sent anywhere. Only the S3 port checks credentials; the
// filer's HTTP port, which would serve and take the bucket's objects
// without any, is turned off (-filer.disableHttp), so a test cannot pass
// by going around the signatures. The gRPC ports remain, unauthenticated,
// on loopback.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/signer"
)

// weedVersion is the SeaweedFS module version scripts/s3server.sh builds;
// the two must agree, as the cached binary is named after it.
const weedVersion = "v0.0.0-20261109003541-7506e5f91cd6"

// WeedEnv names the environment variable that points at a weed binary to
// use instead of the one scripts/s3server.sh caches.
const WeedEnv = "BITS_WEED"

// S3Region is the region every S3 server the tests start answers for.
// SeaweedFS has no regions of its own and accepts any in a signature; the
// clients still need one to sign with.
const S3Region = "us-east-1"

// s3Bucket is the bucket StartS3 creates.
const s3Bucket = "bits-test"

// An S3 is a running SeaweedFS with its S3 gateway on 127.0.0.1, one
// bucket, and one identity with admin rights: requests must be signed
// with AccessKey and SecretKey. The test's cleanup stops it.
type S3 struct {
	bin       string
	dir       string // the test's folder: configuration and log
	data      string // the server's data: master, volumes and filer store
	accessKey string
	secretKey string
	ports     weedPorts

	mu     sync.Mutex
	cmd    *exec.Cmd // nil when killed
	exited chan struct{}
}

// weedPorts are the ports of the four servers in a weed process. Each
// gRPC port is given, as SeaweedFS otherwise takes the HTTP port plus
// 10000, which may be taken or beyond 65535.
type weedPorts struct {
	s3, s3Grpc         int
	master, masterGrpc int
	volume, volumeGrpc int
	filer, filerGrpc   int
}

// WeedBinary returns the weed binary the S3 tests run: $BITS_WEED when
// set, else the one scripts/s3server.sh caches. When neither is there the
// test is skipped, or fails under CI.
func WeedBinary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv(WeedEnv); p != "" {
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			missing(tb, fmt.Sprintf("%s=%s is not an executable file", WeedEnv, p))
		}
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			missing(tb, "no home folder to find the cached SeaweedFS in: "+err.Error())
		}
		cache = filepath.Join(home, ".cache")
	}
	p := filepath.Join(cache, "bits", "weed-"+weedVersion)
	if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
		missing(tb, fmt.Sprintf("SeaweedFS is not built: run scripts/s3server.sh (or make deps) to build %s, or set %s", p, WeedEnv))
	}
	return p
}

// StartS3 starts SeaweedFS with its S3 gateway for the test, creates the
// bucket Bucket, and returns once the server takes a write and serves it
// back (about 11 seconds, see waitReady). Without
// the weed binary (see WeedBinary) the test is skipped, or fails when the
// CI environment variable is set.
func StartS3(tb testing.TB) *S3 {
	tb.Helper()
	s := &S3{
		bin:       WeedBinary(tb),
		dir:       tb.TempDir(),
		accessKey: "BITS" + strings.ToUpper(randomHex(tb, 8)),
		secretKey: randomHex(tb, 20),
	}
	s.data = filepath.Join(s.dir, "data")
	s.writeIdentities(tb)
	tb.Cleanup(func() {
		s.Kill(tb)
		s.removeSockets()
	})

	// A free port may be taken between our look and the server's bind:
	// then weed exits, and other ports are tried, on an empty data folder
	// again, as the master keeps its own address in its raft state.
	for try := 0; ; try++ {
		if err := os.RemoveAll(s.data); err != nil {
			tb.Fatal(err)
		}
		if err := os.Mkdir(s.data, 0o700); err != nil {
			tb.Fatal(err)
		}
		s.ports = freeWeedPorts(tb)
		err := s.start()
		if err == nil {
			break
		}
		s.Kill(tb)
		s.removeSockets()
		if try == 2 {
			tb.Fatalf("SeaweedFS did not start: %v\n%s", err, s.Log())
		}
	}
	// The bucket is created once the gateway answers; an admin identity
	// may create it. 409 BucketAlreadyOwnedByYou cannot happen on a new
	// data folder, so anything but 200 is a failure.
	if code, body := s.do(http.MethodPut, "/"+s3Bucket, nil); code != http.StatusOK {
		tb.Fatalf("creating bucket %s: %d %s\n%s", s3Bucket, code, body, s.Log())
	}
	s.waitReady(tb)
	return s
}

// writeIdentities writes the gateway's static identities (-s3.config):
// one access key with every right. With an identity configured, SeaweedFS
// refuses anonymous and wrongly signed requests.
func (s *S3) writeIdentities(tb testing.TB) {
	tb.Helper()
	type credential struct {
		AccessKey string `json:"accessKey"`
		SecretKey string `json:"secretKey"`
	}
	type identity struct {
		Name        string       `json:"name"`
		Credentials []credential `json:"credentials"`
		Actions     []string     `json:"actions"`
	}
	conf := struct {
		Identities []identity `json:"identities"`
	}{[]identity{{
		Name:        "bits",
		Credentials: []credential{{s.accessKey, s.secretKey}},
		Actions:     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "s3.json"), b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// freeWeedPorts picks eight distinct free ports: all are held open at
// once while they are picked, so no two are the same.
func freeWeedPorts(tb testing.TB) weedPorts {
	tb.Helper()
	var ls []net.Listener
	var ports []int
	for range 8 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return weedPorts{
		s3: ports[0], s3Grpc: ports[1],
		master: ports[2], masterGrpc: ports[3],
		volume: ports[4], volumeGrpc: ports[5],
		filer: ports[6], filerGrpc: ports[7],
	}
}

// args is weed's command line. Logs go to standard error (the log file),
// not to files in /tmp. The master's election timeout is one second, not
// ten: restarted on its old state, the lone master waits about that long
// before it elects itself, and with ten the store had no leader (so no
// volume lookups: reads of stored objects failed) for about 20 seconds
// after every Restart. The
// volume server stops at once rather than after ten seconds of warning
// its master, as nothing else depends on it.
func (s *S3) args() []string {
	p := s.ports
	return []string{
		"-logtostderr=true",
		"server",
		"-dir=" + s.data,
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + strconv.Itoa(p.master), "-master.port.grpc=" + strconv.Itoa(p.masterGrpc),
		"-master.telemetry=false", "-master.electionTimeout=1s",
		"-volume.port=" + strconv.Itoa(p.volume), "-volume.port.grpc=" + strconv.Itoa(p.volumeGrpc),
		"-volume.preStopSeconds=0",
		"-filer", "-filer.port=" + strconv.Itoa(p.filer), "-filer.port.grpc=" + strconv.Itoa(p.filerGrpc), "-filer.disableHttp",
		"-s3", "-s3.port=" + strconv.Itoa(p.s3), "-s3.port.grpc=" + strconv.Itoa(p.s3Grpc),
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.config=" + filepath.Join(s.dir, "s3.json"),
	}
}

// start runs weed on s.ports and waits (up to a minute) until the S3
// gateway answers a signed request with 200; it returns an error if weed
// exits first or does not answer in time. The caller kills it then.
func (s *S3) start() error {
	log, err := os.OpenFile(filepath.Join(s.dir, "weed.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(log, "=== %s weed %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(s.args(), " "))
	cmd := exec.Command(s.bin, s.args()...)
	// weed looks for filer.toml, security.toml and the like in the
	// current folder and ~/.seaweedfs before /usr/local/etc/seaweedfs and
	// /etc/seaweedfs: the first two are the test's folder, so a user's
	// SeaweedFS configuration does not change the server (a machine-wide
	// one would; there is none unless SeaweedFS is installed).
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "HOME="+s.dir)
	cmd.Stdout, cmd.Stderr = log, log
	// weed forks nothing today, but a group of its own lets Kill end
	// whatever it might start along with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-exited:
			return fmt.Errorf("weed exited: %v", cmd.ProcessState)
		default:
		}
		// ListBuckets needs the gateway, its identities and the filer.
		if code, _ := s.do(http.MethodGet, "/", nil); code == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the S3 gateway on %s did not answer a signed ListBuckets with 200 within a minute", s.Endpoint())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReady waits (at most two minutes) until the server takes a write
// and serves it back: it writes a probe object, reads it and removes it.
// ListBuckets answering is not enough. Until the volume server's first
// heartbeat reaches the master, reads of stored objects fail (500,
// "volume not found"); a fresh server's first write waits for its first
// volumes to be made (about five seconds); and after a restart the master
// holds every write for a fixed warm-up of 15 seconds from its election
// (three of its 5-second pulses, not configurable in this version), which
// the gateway waits out rather than refusing the PUT. The probe's PUT is
// given a minute so that it is held, not abandoned and resent: a PUT
// given up by the client may still complete later, after the removal,
// and leave the probe in the bucket.
func (s *S3) waitReady(tb testing.TB) {
	tb.Helper()
	path := "/" + s3Bucket + "/.testenv-probe"
	probe := []byte("probe " + randomHex(tb, 8))
	deadline := time.Now().Add(2 * time.Minute)
	step := func(what string, try func() bool) {
		tb.Helper()
		for !try() {
			if time.Now().After(deadline) {
				tb.Fatalf("SeaweedFS did not %s within two minutes\n%s", what, s.Log())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	step("take a write", func() bool {
		code, _ := s.doWithin(time.Minute, http.MethodPut, path, probe)
		return code == http.StatusOK
	})
	step("serve what it was given", func() bool {
		code, body := s.do(http.MethodGet, path, nil)
		return code == http.StatusOK && body == string(probe)
	})
	step("remove the probe", func() bool {
		code, _ := s.do(http.MethodDelete, path, nil)
		return code == http.StatusNoContent
	})
}

// do sends one request signed with the identity's keys (SigV4, with the
// payload's hash signed) and returns the status and body; 0 when there is
// no answer.
func (s *S3) do(method, path string, body []byte) (int, string) {
	return s.doWithin(10*time.Second, method, path, body)
}

// doWithin is do with a time limit other than ten seconds.
func (s *S3) doWithin(limit time.Duration, method, path string, body []byte) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.Endpoint()+path, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("X-Amz-Content-Sha256", sha256Hex(body))
	req = signer.SignV4(*req, s.accessKey, s.secretKey, "", S3Region)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Kill stops every process of the server with SIGKILL, as a crash would,
// and returns once none is left. Killing a stopped server does nothing.
// What a killed SeaweedFS had acknowledged is on disk; Restart brings it
// back.
func (s *S3) Kill(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
	Eventually(tb, "SeaweedFS's processes to exit", func() bool { return !groupAlive(pgid) })
}

// Restart kills the server (SIGKILL, if it runs) and starts it again on
// the same ports with the same data, identities and bucket, and returns
// once it serves reads and takes writes again: about 17 seconds, most of
// it the master's warm-up (see waitReady). Tests restart the store
// between two fragments of an upload, as a farm must survive its store's
// crash; waiting for writes here keeps the next fragment from meeting a
// PUT held for seconds, which a client's own time limit could turn into
// a failure that has nothing to do with the code under test.
func (s *S3) Restart(tb testing.TB) {
	tb.Helper()
	s.Kill(tb)
	if err := s.start(); err != nil {
		s.Kill(tb)
		tb.Fatalf("restarting SeaweedFS: %v\n%s", err, s.Log())
	}
	s.waitReady(tb)
}

// removeSockets removes the Unix sockets weed makes in /tmp, named after
// its ports, which a killed weed leaves behind.
func (s *S3) removeSockets() {
	p := s.ports
	for _, name := range []string{
		fmt.Sprintf("seaweedfs-s3-%d.sock", p.s3),
		fmt.Sprintf("seaweedfs-filer-%d.sock", p.filer),
		fmt.Sprintf("seaweedfs-master-grpc-%d.sock", p.masterGrpc),
		fmt.Sprintf("seaweedfs-volume-grpc-%d.sock", p.volumeGrpc),
		fmt.Sprintf("seaweedfs-filer-grpc-%d.sock", p.filerGrpc),
		fmt.Sprintf("seaweedfs-s3-grpc-%d.sock", p.s3Grpc),
	} {
		os.Remove(filepath.Join("/tmp", name))
	}
}

// Endpoint is the S3 gateway's URL, http://127.0.0.1:PORT: path-style
// requests (the bucket in the path) only, as no name resolves to
// BUCKET.127.0.0.1.
func (s *S3) Endpoint() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ports.s3))
}

// Host is the gateway's host:port, as clients that take no URL want it.
func (s *S3) Host() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ports.s3)) }

// Bucket is the bucket StartS3 created.
func (s *S3) Bucket() string { return s3Bucket }

// AccessKey is the identity's access key ID.
func (s *S3) AccessKey() string { return s.accessKey }

// SecretKey is the identity's secret access key.
func (s *S3) SecretKey() string { return s.secretKey }

// Region is the region to sign with (S3Region).
func (s *S3) Region() string { return S3Region }

// Client is a client of the gateway with the identity, for a test to look
// at what the store holds.
func (s *S3) Client(tb testing.TB) *minio.Client {
	tb.Helper()
	c, err := minio.New(s.Host(), &minio.Options{
		Creds:        credentials.NewStaticV4(s.accessKey, s.secretKey, ""),
		Region:       S3Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Env is what a client process adds to its environment to reach the
// server with the identity, in the variables the AWS SDKs and CLI read:
// AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_REGION. AWS_EC2_METADATA_DISABLED keeps an SDK that looks for
// credentials elsewhere from asking the link-local metadata service.
func (s *S3) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.Endpoint(),
		"AWS_ACCESS_KEY_ID=" + s.accessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.secretKey,
		"AWS_REGION=" + S3Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Log returns what weed logged so far, every start of it included, for
// failure messages.
func (s *S3) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "weed.log"))
	return string(b)
}
