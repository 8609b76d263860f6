package bitsadmin

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// refusalSamples holds, for every verb that takes a job, arguments after
// the job that it accepts (so that the lookup is reached) and arguments it
// refuses before the job is even looked up.
var refusalSamples = map[string]struct {
	good []string
	bad  [][]string
}{
	"/INFO":                       {good: []string{}},
	"/ADDFILE":                    {good: []string{"http://example.com/a", "/tmp/a"}, bad: [][]string{{"ftp://example.com/a", "/tmp/a"}, {"http://example.com/a", "relative"}}},
	"/ADDFILESET":                 {good: []string{"$DIR/set.txt"}, bad: [][]string{{"/nonexistent/set.txt"}, {"$DIR"}}},
	"/ADDFILEWITHRANGES":          {good: []string{"http://example.com/a", "/tmp/a", "0:10"}, bad: [][]string{{"http://example.com/a", "/tmp/a", "0-10"}, {"http://example.com/a", "/tmp/a", "0:10,5:10"}}},
	"/REPLACEREMOTEPREFIX":        {good: []string{"http://a", "http://b"}, bad: [][]string{{"", "http://b"}}},
	"/LISTFILES":                  {good: []string{}},
	"/SUSPEND":                    {good: []string{}},
	"/RESUME":                     {good: []string{}},
	"/CANCEL":                     {good: []string{}},
	"/COMPLETE":                   {good: []string{}},
	"/GETERROR":                   {good: []string{}},
	"/SETDISPLAYNAME":             {good: []string{"x"}, bad: [][]string{{strings.Repeat("x", 257)}}},
	"/SETDESCRIPTION":             {good: []string{"x"}, bad: [][]string{{strings.Repeat("x", 1025)}}},
	"/SETPRIORITY":                {good: []string{"LOW"}, bad: [][]string{{"urgent"}}},
	"/SETNOTIFYFLAGS":             {good: []string{"1"}, bad: [][]string{{"x"}, {"64"}}},
	"/SETMINRETRYDELAY":           {good: []string{"60"}, bad: [][]string{{"-1"}}},
	"/SETNOPROGRESSTIMEOUT":       {good: []string{"60"}, bad: [][]string{{"1.5"}}},
	"/SETMAXDOWNLOADTIME":         {good: []string{"60"}, bad: [][]string{{"sixty"}}},
	"/SETPROXYSETTINGS":           {good: []string{"NO_PROXY"}, bad: [][]string{{"BOGUS"}, {"OVERRIDE", "NULL", "NULL"}, {"OVERRIDE", "p"}}},
	"/TAKEOWNERSHIP":              {good: []string{}},
	"/SETNOTIFYCMDLINE":           {good: []string{"NULL", "NULL"}, bad: [][]string{{"/bin/true", ""}, {"NULL", "x"}}},
	"/SETCREDENTIALS":             {good: []string{"SERVER", "BASIC", "u", "p"}, bad: [][]string{{"X", "BASIC", "u", "p"}, {"SERVER", "X", "u", "p"}, {"SERVER", "BASIC", "NULL", "NULL"}}},
	"/REMOVECREDENTIALS":          {good: []string{"SERVER", "BASIC"}, bad: [][]string{{"X", "BASIC"}}},
	"/SETCUSTOMHEADERS":           {good: []string{"X-A: 1"}, bad: [][]string{{"bad"}}},
	"/MAKECUSTOMHEADERSWRITEONLY": {good: []string{}},
	"/SETHTTPMETHOD":              {good: []string{"PUT"}, bad: [][]string{{"A B"}}},
	"/SETSECURITYFLAGS":           {good: []string{"1"}, bad: [][]string{{"4096"}}},
	"/SETCLIENTCERTIFICATEBYID":   {good: []string{"1", "MY", strings.Repeat("00", 20)}, bad: [][]string{{"9", "MY", strings.Repeat("00", 20)}, {"1", "XX", strings.Repeat("00", 20)}, {"1", "MY", "00"}}},
	"/SETCLIENTCERTIFICATEBYNAME": {good: []string{"1", "MY", "CN=x"}, bad: [][]string{{"0", "MY", "CN=x"}}},
	"/REMOVECLIENTCERTIFICATE":    {good: []string{}},
	"/SETACLFLAGS":                {good: []string{"O"}, bad: [][]string{{"X"}}},
	"/SETVALIDATIONSTATE":         {good: []string{"0", "TRUE"}, bad: [][]string{{"0", "YES"}, {"x", "TRUE"}, {"0", "TRUE"}}},
	"/GETVALIDATIONSTATE":         {good: []string{"0"}, bad: [][]string{{"x"}, {"9"}}},
	"/GETTEMPORARYNAME":           {good: []string{"0"}, bad: [][]string{{"-1"}}},
	"/SETPEERCACHINGFLAGS":        {good: []string{"1"}, bad: [][]string{{"16"}}},
	"/GETPEERSTATS":               {good: []string{"0"}, bad: [][]string{{"0"}}},
	"/SETREPLYFILENAME":           {good: []string{"/tmp/r"}, bad: [][]string{{"/tmp/r"}}}, // a download job has no reply
	"/GETREPLYFILENAME":           {good: []string{}},
	"/GETREPLYPROGRESS":           {good: []string{}},
	"/GETREPLYDATA":               {good: []string{}},
	"/SETHELPERTOKEN":             {good: []string{}, bad: [][]string{{"", "p"}}},
	"/SETHELPERTOKENFLAGS":        {good: []string{"1"}, bad: [][]string{{"8"}}},
}

// Every verb that takes a job refuses a missing argument, an unknown job,
// an ambiguous name and bad values with Windows' messages and a non-zero
// exit, and none of them changes any job.
func TestRefusalsChangeNothing(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	h.must("/addfile", "job", "http://example.com/a", "$DIR/a")
	h.must("/create", "dup")
	h.must("/create", "dup")
	if err := os.WriteFile(filepath.Join(h.dir, "set.txt"), []byte("http://example.com/b "+h.dir+"/b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := h.m.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	refused := func(args []string, wantErr ...string) {
		t.Helper()
		out, errs, code := h.run(args...)
		ok := false
		for _, w := range wantErr {
			ok = ok || strings.HasPrefix(errs, w)
		}
		if code == 0 || !ok || strings.Contains(out, "Unable") {
			t.Errorf("bitsadmin %q: exit %d, stderr %q; want non-zero and one of %q", args, code, errs, wantErr)
		}
	}
	for _, v := range verbs {
		if v.grammar.lead == 0 || v.name == "/TRANSFER" {
			continue
		}
		s, ok := refusalSamples[v.name]
		if !ok {
			if strings.HasPrefix(v.name, "/GET") && v.grammar.max == 1 {
				s.good = []string{} // a getter of one job: nothing to refuse but the job
			} else {
				t.Errorf("%s has no refusal samples", v.name)
				continue
			}
		}
		refused([]string{v.name}, "Invalid number of arguments.")
		refused(append([]string{v.name, "nosuch"}, s.good...), "Unable to find job 'nosuch' - 0x80200001\n")
		refused(append([]string{v.name, "dup"}, s.good...), "Several jobs are named 'dup'.\n")
		for _, bad := range s.bad {
			refused(append([]string{v.name, "job"}, bad...), "Unable to ", "Invalid number of arguments.")
		}
	}
	after, err := h.m.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("refused commands changed jobs:\nbefore %+v\nafter  %+v", before, after)
	}
}
