package bitsadmin

import (
	"os"
	"path/filepath"
	"testing"
)

// Golden transcripts of the getters and setters of job settings: each
// records the success path, then the refusals (bad value, wrong count,
// unknown job, wrong state), then what the job holds at the end, so a
// refusal that changed something shows in the transcript.

func TestGoldenGetters(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	h.must("/create", "/upload", "up")
	h.must("/create", "/upload-reply", "reply")
	for _, v := range []string{"/gettype", "/getowner", "/getcreationtime", "/getmodificationtime",
		"/getcompletiontime", "/getdisplayname", "/getdescription", "/getpriority", "/getnotifyflags",
		"/getnotifyinterface", "/getmaxdownloadtime", "/getproxyusage", "/getproxylist", "/getproxybypasslist",
		"/getnotifycmdline", "/getcustomheaders", "/gethttpmethod", "/getsecurityflags", "/getclientcertificate",
		"/getaclflags", "/getpeercachingflags", "/gethelpertokensid", "/gethelpertokenflags"} {
		h.record(v, "job")
		h.record("/rawreturn", v, "job")
	}
	h.record("/gettype", "up")
	h.record("/gettype", "reply")
	h.record("/gethttpmethod", "up")
	h.record("/GetHttpMethod", "reply")
	h.record("/getowner")
	h.record("/getowner", "job", "extra")
	h.record("/getowner", "nosuch")
	h.check("getters")
}

func TestGoldenSetters(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	h.must("/create", "dup")
	h.must("/create", "dup")

	h.record("/setdisplayname", "job", "my job")
	h.record("/getdisplayname", "my job")
	h.record("/setdisplayname", "my job", "job")
	h.record("/setdescription", "job", "Nightly images")
	h.record("/rawreturn", "/getdescription", "job")
	h.record("/setdescription", "job", "")
	h.record("/getdescription", "job")

	h.record("/setpriority", "job", "high")
	h.record("/getpriority", "job")
	h.record("/setpriority", "job", "urgent")
	h.record("/setpriority", "job", "0")

	h.record("/setnotifyflags", "job", "1")
	h.record("/getnotifyflags", "job")
	h.record("/setnotifyflags", "job", "0x1")
	h.record("/setnotifyflags", "job", "64")

	h.record("/setmaxdownloadtime", "job", "3600")
	h.record("/getmaxdownloadtime", "job")
	h.record("/setmaxdownloadtime", "job", "-1")

	h.record("/setsecurityflags", "job", "258") // ignore CN mismatch, report redirects
	h.record("/getsecurityflags", "job")
	h.record("/setsecurityflags", "job", "1024") // no such redirect policy
	h.record("/setsecurityflags", "job", "32")

	h.record("/setaclflags", "job", "og")
	h.record("/getaclflags", "job")
	h.record("/setaclflags", "job", "sdgo")
	h.record("/rawreturn", "/getaclflags", "job")
	h.record("/setaclflags", "job", "ox")

	h.record("/setpeercachingflags", "job", "3")
	h.record("/getpeercachingflags", "job")
	h.record("/setpeercachingflags", "job", "8")

	h.record("/sethelpertokenflags", "job", "3")
	h.record("/gethelpertokenflags", "job")
	h.record("/sethelpertokenflags", "job", "4")
	h.record("/sethelpertokenflags", "job", "one")

	// A custom method makes the job FOREGROUND for good.
	h.record("/sethttpmethod", "job", "PUT")
	h.record("/gethttpmethod", "job")
	h.record("/getpriority", "job")
	h.record("/setpriority", "job", "low")
	h.record("/sethttpmethod", "job", "BAD METHOD")

	// Wrong count, unknown and ambiguous jobs, wrong state.
	h.record("/setpriority", "job")
	h.record("/setpriority", "job", "low", "extra")
	h.record("/setpriority", "nosuch", "low")
	h.record("/setpriority", "dup", "low")
	h.must("/addfile", "job", "http://example.com/a", "$DIR/a")
	h.must("/resume", "job")
	h.record("/sethttpmethod", "job", "POST") // only before the first resume
	h.record("/info", "job", "/verbose")
	h.check("setters")
}

func TestGoldenProxy(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	show := func() {
		h.record("/getproxyusage", "job")
		h.record("/getproxylist", "job")
		h.record("/getproxybypasslist", "job")
	}
	h.record("/setproxysettings", "job", "OVERRIDE", "proxy1:80", "<local>")
	show()
	h.record("/setproxysettings", "job", "override", "proxy1,proxy2,proxy3", "NULL")
	show()
	h.record("/setproxysettings", "job", "OVERRIDE", "http=proxy1:80 https=proxy2:443", "")
	h.record("/info", "job", "/verbose")
	h.record("/setproxysettings", "job", "NO_PROXY")
	show()
	h.record("/setproxysettings", "job", "autodetect")
	h.record("/getproxyusage", "job")
	h.record("/setproxysettings", "job", "PRECONFIG")
	show()

	h.record("/setproxysettings", "job", "OVERRIDE", "NULL", "NULL") // OVERRIDE needs a proxy
	h.record("/setproxysettings", "job", "OVERRIDE", "proxy1:80")
	h.record("/setproxysettings", "job", "PRECONFIG", "proxy1:80", "NULL")
	h.record("/setproxysettings", "job", "SOMETIMES")
	h.record("/setproxysettings", "job")
	h.record("/setproxysettings", "nosuch", "NO_PROXY")
	h.record("/getproxyusage", "job")
	h.check("proxy")
}

func TestGoldenNotifyCmdLine(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	h.record("/setnotifycmdline", "job", "/usr/bin/notepad", "NULL")
	h.record("/getnotifycmdline", "job")
	h.record("/setnotifycmdline", "job", "/usr/local/bin/bitsadmin", "bitsadmin /complete job")
	h.record("/getnotifycmdline", "job")
	h.record("/rawreturn", "/getnotifycmdline", "job")
	h.record("/info", "job", "/verbose")
	h.record("/setnotifycmdline", "job", "/usr/bin/notepad", "notepad", "/tmp/eula.txt")
	h.record("/getnotifycmdline", "job")
	h.record("/setnotifycmdline", "job", "/usr/bin/touch")
	h.record("/getnotifycmdline", "job")
	h.record("/setnotifycmdline", "job", "NULL", "NULL")
	h.record("/getnotifycmdline", "job")

	h.record("/setnotifycmdline", "job", "/usr/bin/notepad", "")
	h.record("/setnotifycmdline", "job", "", "NULL")
	h.record("/setnotifycmdline", "job", "NULL", "notepad x") // parameters without a program
	h.record("/setnotifycmdline", "job")
	h.record("/setnotifycmdline", "nosuch", "NULL", "NULL")
	h.record("/getnotifycmdline", "job")
	h.check("notifycmdline")
}

func TestGoldenCredentials(t *testing.T) {
	h := newHarness(t)
	h.vars["$PASSWORD"] = "password20"
	h.secrets = []string{"password20"}
	h.must("/create", "job")
	h.must("/addfile", "job", "http://example.com/a", "$DIR/a")
	h.record("/setcredentials", "job", "SERVER", "BASIC", "Edward", "$PASSWORD")
	h.record("/setcredentials", "job", "proxy", "ntlm", "NULL", "NULL")
	h.record("/setcredentials", "job", "SERVER", "BASIC", "Edward", "$PASSWORD") // replaces
	h.record("/info", "job", "/verbose")

	h.record("/setcredentials", "job", "SERVER", "BASIC", "NULL", "NULL") // implicit: NTLM and NEGOTIATE only
	h.record("/setcredentials", "job", "ORIGIN", "BASIC", "Edward", "$PASSWORD")
	h.record("/setcredentials", "job", "SERVER", "KERBEROS", "Edward", "$PASSWORD")
	h.record("/setcredentials", "job", "SERVER", "BASIC", "Edward")
	h.record("/setcredentials", "nosuch", "SERVER", "BASIC", "Edward", "$PASSWORD")

	h.record("/removecredentials", "job", "PROXY", "NTLM")
	h.record("/removecredentials", "job", "PROXY", "NTLM") // no longer set: S_FALSE
	h.record("/removecredentials", "job", "PROXY", "BOGUS")
	h.record("/removecredentials", "job", "PROXY")
	h.record("/list", "/verbose")
	h.check("credentials")
}

func TestGoldenCustomHeaders(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	h.record("/setcustomheaders", "job", "X-Trace: 1", "Accept-Language: en, fr")
	h.record("/getcustomheaders", "job")
	h.record("/rawreturn", "/getcustomheaders", "job")
	h.record("/info", "job", "/verbose")
	h.record("/setcustomheaders", "job", "NULL")
	h.record("/getcustomheaders", "job")
	h.record("/setcustomheaders", "job", "no colon")
	h.record("/setcustomheaders", "job", ": no name")
	h.record("/setcustomheaders", "job")
	h.record("/getcustomheaders", "job")

	// A header made write-only is never printed again.
	h.vars["$TOKEN"] = "s3cr3t-token"
	h.record("/setcustomheaders", "job", "Authorization: Bearer $TOKEN")
	h.record("/makecustomheaderswriteonly", "job")
	h.secrets = []string{"s3cr3t-token"}
	h.record("/getcustomheaders", "job")
	h.record("/info", "job", "/verbose")
	h.record("/setcustomheaders", "job", "Authorization: Bearer $TOKEN")
	h.record("/getcustomheaders", "job")
	h.record("/makecustomheaderswriteonly", "nosuch")
	h.check("customheaders")
}

func TestGoldenClientCertificate(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	const hash = "0123456789abcdef0123456789ABCDEF01234567"
	h.record("/setclientcertificatebyid", "job", "1", "MY", hash)
	h.record("/getclientcertificate", "job")
	h.record("/setclientcertificatebyid", "job", "BG_CERT_STORE_LOCATION_LOCAL_MACHINE", "root", hash)
	h.record("/getclientcertificate", "job")
	h.record("/setclientcertificatebyname", "job", "8", "CA", "CN=client, O=Example")
	h.record("/rawreturn", "/getclientcertificate", "job")
	h.record("/info", "job", "/verbose")
	h.record("/removeclientcertificate", "job")
	h.record("/getclientcertificate", "job")

	// The example of Windows' documentation: 32 hex digits are not a SHA-1 hash.
	h.record("/SetClientCertificateByID", "job", "BG_CERT_STORE_LOCATION_CURRENT_USER", "MY", "A106B52356D3FBCD1853A41B619358BD")
	h.record("/setclientcertificatebyid", "job", "9", "MY", hash)
	h.record("/setclientcertificatebyid", "job", "0", "MY", hash)
	h.record("/setclientcertificatebyid", "job", "1", "TRUSTED", hash)
	h.record("/setclientcertificatebyid", "job", "1", "MY", "xyz")
	h.record("/setclientcertificatebyname", "job", "1", "MY", "")
	h.record("/setclientcertificatebyname", "job", "1", "MY")
	h.record("/removeclientcertificate", "nosuch")
	h.record("/getclientcertificate", "job")
	h.check("clientcertificate")
}

func TestGoldenHelperToken(t *testing.T) {
	h := newHarness(t)
	h.vars["$PASSWORD"] = "hunter2-helper"
	h.secrets = []string{"hunter2-helper"}
	h.must("/create", "job")
	h.record("/sethelpertoken", "job")
	h.record("/gethelpertokensid", "job")
	h.record("/sethelpertoken", "job", "alice@corp.example", "$PASSWORD")
	h.record("/rawreturn", "/gethelpertokensid", "job")
	h.record("/sethelpertokenflags", "job", "1")
	h.record("/gethelpertokenflags", "job")
	h.record("/info", "job", "/verbose")
	h.record("/sethelpertoken", "job", "alice@corp.example")
	h.record("/sethelpertoken", "job", "", "$PASSWORD")
	h.record("/sethelpertoken", "nosuch")
	h.record("/gethelpertokensid", "job")
	h.check("helpertoken")
}

func TestGoldenTakeOwnership(t *testing.T) {
	h := newHarness(t)
	h.vars["$PASSWORD"] = "password20"
	h.secrets = []string{"password20"}
	h.must("/create", "job")
	h.must("/setcredentials", "job", "SERVER", "BASIC", "Edward", "$PASSWORD")
	h.must("/setcustomheaders", "job", "X-Trace: 1")
	h.must("/setnotifycmdline", "job", "/bin/true", "NULL")
	h.must("/sethelpertoken", "job")
	h.must("/sethelpertokenflags", "job", "2")
	h.record("/info", "job", "/verbose")
	h.record("/takeownership", "job")
	h.record("/info", "job", "/verbose")
	h.record("/takeownership")
	h.record("/takeownership", "nosuch")
	h.check("takeownership")
}

func TestGoldenReply(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "/upload-reply", "reply")
	h.must("/create", "dl")
	h.record("/getreplyfilename", "reply")
	h.record("/setreplyfilename", "reply", "$DIR/reply.txt")
	h.record("/getreplyfilename", "reply")
	h.record("/rawreturn", "/getreplyfilename", "reply")
	h.record("/getreplyprogress", "reply")
	h.record("/getreplydata", "reply") // the reply is read once the job is TRANSFERRED
	h.record("/info", "reply", "/verbose")
	h.record("/setreplyfilename", "reply", "relative.txt")
	h.record("/setreplyfilename", "reply", "$DIR/no/such/folder/reply.txt")
	h.record("/getreplyfilename", "dl")
	h.record("/setreplyfilename", "dl", "$DIR/reply.txt")
	h.record("/getreplyprogress", "dl")
	h.record("/getreplydata", "dl")
	h.record("/getreplydata", "nosuch")
	h.record("/getreplydata")
	h.check("reply")
}

func TestGoldenFileSet(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(h.dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("set.txt", "# nightly images\n"+
		"http://example.com/a.iso "+h.dir+"/a.iso\n"+
		"\n"+
		"   http://example.com/b.iso\t"+h.dir+"/b.iso   \r\n"+
		"http://example.com/c%20d.iso \""+h.dir+"/c d.iso\"\n")
	write("bad.txt", "http://example.com/x "+h.dir+"/x\nhttp://example.com/y\n")
	write("refused.txt", "http://example.com/x "+h.dir+"/x\nftp://example.com/y "+h.dir+"/y\n")
	write("empty.txt", "# nothing\n\n")
	write("quote.txt", "http://example.com/x \""+h.dir+"/x\n")
	h.record("/addfileset", "job", "$DIR/set.txt")
	h.record("/listfiles", "job")
	h.record("/addfileset", "job", "$DIR/bad.txt")
	h.record("/addfileset", "job", "$DIR/refused.txt") // all or none
	h.record("/addfileset", "job", "$DIR/empty.txt")
	h.record("/addfileset", "job", "$DIR/quote.txt")
	h.record("/addfileset", "job", "$DIR/missing.txt")
	h.record("/addfileset", "job", "$DIR")
	h.record("/addfileset", "job")
	h.record("/addfileset", "nosuch", "$DIR/set.txt")
	h.record("/listfiles", "job")
	h.check("addfileset")
}

func TestGoldenRanges(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "myDownloadJob")
	h.must("/create", "j2")
	h.must("/create", "/upload", "up")
	h.record("/addfilewithranges", "myDownloadJob", "http://example.com/10mb.zip", "$DIR/10mb.zip", "0:100,2000:100,5000:eof")
	h.record("/addfilewithranges", "myDownloadJob", "http://example.com/1k.zip", "$DIR/1k.zip", "900:100,0:100")
	h.record("/listfiles", "myDownloadJob")
	// The zero-length range quirk of Windows' documentation.
	h.record("/addfilewithranges", "j2", "http://bitsdc/dload/1k.zip", "$DIR/1k.zip", "100:0,100:5")
	h.record("/addfilewithranges", "j2", "http://example.com/x", "$DIR/x", "0:100,50:100")
	h.record("/addfilewithranges", "j2", "http://example.com/x", "$DIR/x", "0:eof,5000:10")
	h.record("/addfilewithranges", "j2", "http://example.com/x", "$DIR/x", "0-100")
	h.record("/addfilewithranges", "j2", "http://example.com/x", "$DIR/x", "0:100,")
	h.record("/addfilewithranges", "j2", "http://example.com/x", "$DIR/x", "-1:100")
	h.record("/addfilewithranges", "up", "http://example.com/x", "$DIR/x", "0:100")
	h.record("/addfilewithranges", "j2", "http://example.com/x", "$DIR/x")
	h.record("/addfilewithranges", "nosuch", "http://example.com/x", "$DIR/x", "0:100")
	h.record("/listfiles", "j2")
	h.check("ranges")
}

func TestGoldenReplaceRemotePrefix(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	h.must("/addfile", "job", "http://old.example.com/a", "$DIR/a")
	h.must("/addfile", "job", "http://old.example.com/b", "$DIR/b")
	h.must("/addfile", "job", "http://other.example.com/c", "$DIR/c")
	h.must("/create", "/upload", "up")
	h.record("/replaceremoteprefix", "job", "http://old.example.com", "https://new.example.com")
	h.record("/listfiles", "job")
	h.record("/replaceremoteprefix", "job", "HTTP://OTHER.example.com", "http://x.example.com") // case matters
	h.record("/replaceremoteprefix", "job", "http://other.example.com/", "ftp://other.example.com/")
	h.record("/replaceremoteprefix", "job", "", "http://x.example.com")
	h.record("/replaceremoteprefix", "up", "http://a", "http://b")
	h.record("/replaceremoteprefix", "job", "http://a")
	h.record("/replaceremoteprefix", "nosuch", "http://a", "http://b")
	h.record("/listfiles", "job")
	h.check("replaceremoteprefix")
}

// The per-file verbs on files that have not moved yet.
func TestGoldenFileQueries(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	h.must("/addfile", "job", "http://example.com/a", "$DIR/a")
	h.record("/getvalidationstate", "job", "0")
	h.record("/rawreturn", "/getvalidationstate", "job", "0")
	h.record("/gettemporaryname", "job", "0")
	h.record("/setvalidationstate", "job", "0", "TRUE") // not transferred yet
	h.record("/getpeerstats", "job", "0")
	h.record("/getvalidationstate", "job", "1")
	h.record("/gettemporaryname", "job", "-1")
	h.record("/getpeerstats", "job", "x")
	h.record("/setvalidationstate", "job", "0", "MAYBE")
	h.record("/setvalidationstate", "job", "7", "TRUE")
	h.record("/setvalidationstate", "job", "0")
	h.record("/gettemporaryname", "job")
	h.record("/getvalidationstate", "nosuch", "0")
	h.check("filequeries")
}
