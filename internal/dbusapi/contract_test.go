package dbusapi

import (
	"reflect"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"bits/engine"
)

// TestHandlersAreTheInterface: every method, argument and property of
// org.bits.Transfer1.xml has its handler with the same D-Bus types, and no
// handler is missing from the file.
func TestHandlersAreTheInterface(t *testing.T) {
	for iface, handler := range map[string]any{ManagerIface: managerObject{}, JobIface: jobObject{}} {
		declared := map[string]bool{}
		for _, m := range interfaces()[iface].Methods {
			declared[m.Name] = true
			var in, out []string
			for _, a := range m.Args {
				if a.Direction == "out" {
					out = append(out, a.Type)
				} else {
					in = append(in, a.Type)
				}
			}
			meth, ok := reflect.TypeOf(handler).MethodByName(m.Name)
			if !ok {
				t.Errorf("%s.%s has no handler", iface, m.Name)
				continue
			}
			gotIn, gotOut := signatures(meth.Type)
			if strings.Join(gotIn, ",") != strings.Join(in, ",") || strings.Join(gotOut, ",") != strings.Join(out, ",") {
				t.Errorf("%s.%s takes %v and gives %v; the interface says %v and %v", iface, m.Name, gotIn, gotOut, in, out)
			}
		}
		typ := reflect.TypeOf(handler)
		for i := range typ.NumMethod() {
			if name := typ.Method(i).Name; !declared[name] {
				t.Errorf("%s.%s is served but not in org.bits.Transfer1.xml", iface, name)
			}
		}
	}

	job := &engine.Job{Err: &engine.JobError{}, Files: []engine.File{{}}}
	for iface, values := range map[string]map[string]any{JobIface: jobValues(job), FileIface: fileValues(job.Files[0])} {
		declared := map[string]bool{}
		for _, p := range interfaces()[iface].Properties {
			declared[p.Name] = true
			v, ok := values[p.Name]
			if !ok {
				t.Errorf("%s.%s has no value", iface, p.Name)
				continue
			}
			if got := dbus.SignatureOf(v).String(); got != p.Type {
				t.Errorf("%s.%s is %s; the interface says %s", iface, p.Name, got, p.Type)
			}
			writable := p.Name == "ValidationState"
			if iface == JobIface {
				writable = jobProperties()[p.Name].set != nil
			}
			if want := p.Access == "readwrite"; writable != want {
				t.Errorf("%s.%s: writable %v; the interface says %s", iface, p.Name, writable, p.Access)
			}
		}
		for name := range values {
			if !declared[name] {
				t.Errorf("%s.%s is served but not in org.bits.Transfer1.xml", iface, name)
			}
		}
	}
}

// signatures are the D-Bus types of a handler's arguments and results,
// leaving out the receiver, the message and the error.
func signatures(f reflect.Type) (in, out []string) {
	for i := 1; i < f.NumIn(); i++ {
		if p := f.In(i); p != reflect.TypeOf(dbus.Message{}) {
			in = append(in, dbus.SignatureOfType(p).String())
		}
	}
	for i := 0; i < f.NumOut()-1; i++ {
		out = append(out, dbus.SignatureOfType(f.Out(i)).String())
	}
	return in, out
}

func TestPaths(t *testing.T) {
	const id = "4067D33A-FD75-4A44-8B08-8D9B54D6E76D"
	if got, want := JobPath(id), dbus.ObjectPath("/org/bits/Transfer1/job/4067D33A_FD75_4A44_8B08_8D9B54D6E76D"); got != want || !got.IsValid() {
		t.Errorf("JobPath = %s, want %s", got, want)
	}
	for path, want := range map[dbus.ObjectPath]struct {
		id   string
		file int
		ok   bool
	}{
		JobPath(id):                        {id, -1, true},
		FilePath(id, 0):                    {id, 0, true},
		FilePath(id, 12):                   {id, 12, true},
		JobPath(id) + "/file/-1":           {},
		JobPath(id) + "/file/01":           {},
		JobPath(id) + "/file/x":            {},
		JobPath(id) + "/other":             {},
		"/org/bits/Transfer1/job/4067D33A": {},
		"/org/bits/Transfer1":              {},
		"/org/bits/Transfer1/job/4067D33A-FD75-4A44-8B08-8D9B54D6E76D": {},
	} {
		id, file, ok := parsePath(path)
		if ok != want.ok || (ok && (id != want.id || file != want.file)) {
			t.Errorf("parsePath(%s) = %q, %d, %v; want %q, %d, %v", path, id, file, ok, want.id, want.file, want.ok)
		}
	}
}
