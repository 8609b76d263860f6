package dbusapi

import (
	"context"
	"encoding/xml"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"

	"bits/engine"
	"bits/hresult"
)

// callTimeout bounds the store's work for one call.
const callTimeout = 30 * time.Second

func call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

func invalidArgs(msg string) *dbus.Error {
	return dbus.NewError("org.freedesktop.DBus.Error.InvalidArgs", []any{msg})
}

// managerObject is IBackgroundCopyManager.
type managerObject struct{ s *service }

func (o managerObject) CreateJob(msg dbus.Message, name string, typ uint32) (dbus.ObjectPath, *dbus.Error) {
	if err := o.s.allow(msg); err != nil {
		return "", err
	}
	ctx, cancel := call()
	defer cancel()
	if typ > uint32(engine.UploadReply) {
		return "", fail(&hresult.Error{Code: hresult.E_INVALIDARG, Msg: "job type " + strconv.Itoa(int(typ))})
	}
	j, err := o.s.m.Create(ctx, name, engine.JobType(typ))
	if err != nil {
		return "", fail(err)
	}
	return JobPath(j.ID), nil
}

func (o managerObject) GetJob(msg dbus.Message, guidOrName string) (dbus.ObjectPath, *dbus.Error) {
	if err := o.s.allow(msg); err != nil {
		return "", err
	}
	ctx, cancel := call()
	defer cancel()
	find := o.s.m.Find
	if o.s.allUsers {
		find = func(ctx context.Context, arg string) (*engine.Job, error) {
			j, m, err := o.s.m.FindAnyUser(ctx, arg)
			if m != nil && m != o.s.m {
				m.Close()
			}
			return j, err
		}
	}
	j, err := find(ctx, guidOrName)
	if err != nil {
		return "", fail(err)
	}
	return JobPath(j.ID), nil
}

func (o managerObject) ListJobs(msg dbus.Message) ([]dbus.ObjectPath, *dbus.Error) {
	if err := o.s.allow(msg); err != nil {
		return nil, err
	}
	ctx, cancel := call()
	defer cancel()
	return list(ctx, o.s.m)
}

func list(ctx context.Context, m *engine.Manager) ([]dbus.ObjectPath, *dbus.Error) {
	paths := []dbus.ObjectPath{}
	err := m.EachSummary(ctx, func(s engine.Summary) error {
		paths = append(paths, JobPath(s.ID))
		return nil
	})
	return paths, fail(err)
}

// ListAllJobs lists every user's jobs: the service of the system bus only.
func (o managerObject) ListAllJobs(msg dbus.Message) ([]dbus.ObjectPath, *dbus.Error) {
	if !o.s.allUsers {
		return nil, fail(&hresult.Error{Code: hresult.E_ACCESSDENIED, Context: hresult.ContextGeneralQueueManager,
			Msg: "every user's jobs are listed by root's service on the system bus"})
	}
	if err := o.s.allow(msg); err != nil {
		return nil, err
	}
	ctx, cancel := call()
	defer cancel()
	var paths []dbus.ObjectPath
	err := engine.ForAllUsers(ctx, engine.Options{Home: o.s.m.Home()}, func(m *engine.Manager) error {
		p, err := list(ctx, m)
		if err != nil {
			return err
		}
		paths = append(paths, p...)
		return nil
	})
	var skipped engine.SkippedStores
	if err != nil && !errors.As(err, &skipped) {
		return nil, fail(err)
	}
	for _, st := range skipped {
		o.s.log.Warn("a user's jobs left out", "user", st.User, "err", st.Err)
	}
	return paths, nil
}

// jobObject is IBackgroundCopyJob, for every job's path.
type jobObject struct{ s *service }

// do runs f on the job the call is about, with the Manager of its store.
func (o jobObject) do(msg dbus.Message, f func(ctx context.Context, m *engine.Manager, id string) error) *dbus.Error {
	id, derr := o.s.job(msg)
	if derr != nil {
		return derr
	}
	return o.s.with(msg, id, func(ctx context.Context, m *engine.Manager) *dbus.Error { return fail(f(ctx, m, id)) })
}

func (o jobObject) AddFile(msg dbus.Message, remote, local string) *dbus.Error {
	return o.do(msg, func(ctx context.Context, m *engine.Manager, id string) error {
		return m.AddFile(ctx, id, remote, local)
	})
}

// FileInfo is a file of AddFiles: (remote name, local name), as
// BG_FILE_INFO.
type FileInfo struct{ Remote, Local string }

// AddFiles adds every file or none, as AddFileSet.
func (o jobObject) AddFiles(msg dbus.Message, files []FileInfo) *dbus.Error {
	specs := make([]engine.FileSpec, len(files))
	for i, f := range files {
		specs[i] = engine.FileSpec{Remote: f.Remote, Local: f.Local}
	}
	return o.do(msg, func(ctx context.Context, m *engine.Manager, id string) error {
		return m.AddFiles(ctx, id, specs)
	})
}

// Range is a byte range of AddFileWithRanges: (offset, length), length
// math.MaxUint64 for "to the end of the file", as BG_LENGTH_TO_EOF.
type Range struct{ Offset, Length uint64 }

func (o jobObject) AddFileWithRanges(msg dbus.Message, remote, local string, ranges []Range) *dbus.Error {
	rs := make([]engine.Range, len(ranges))
	for i, r := range ranges {
		rs[i] = engine.Range{Offset: r.Offset, Length: r.Length}
	}
	return o.do(msg, func(ctx context.Context, m *engine.Manager, id string) error {
		return m.AddFileWithRanges(ctx, id, remote, local, rs)
	})
}

func (o jobObject) EnumFiles(msg dbus.Message) ([]dbus.ObjectPath, *dbus.Error) {
	paths := []dbus.ObjectPath{}
	err := o.do(msg, func(ctx context.Context, m *engine.Manager, id string) error {
		j, err := m.Get(ctx, id)
		if err != nil {
			return err
		}
		for _, f := range j.Files {
			paths = append(paths, FilePath(id, f.Index))
		}
		return nil
	})
	return paths, err
}

func (o jobObject) Resume(msg dbus.Message) *dbus.Error {
	return o.do(msg, func(ctx context.Context, m *engine.Manager, id string) error {
		if err := m.Resume(ctx, id); err != nil {
			return err
		}
		return m.EnsureWorker(ctx)
	})
}

func (o jobObject) Suspend(msg dbus.Message) *dbus.Error {
	return o.do(msg, func(ctx context.Context, m *engine.Manager, id string) error { return m.Suspend(ctx, id) })
}

func (o jobObject) Cancel(msg dbus.Message) (uint32, *dbus.Error) {
	var code hresult.Code
	err := o.do(msg, func(ctx context.Context, m *engine.Manager, id string) (err error) {
		code, err = m.Cancel(ctx, id)
		return err
	})
	return uint32(code), err
}

func (o jobObject) Complete(msg dbus.Message) (uint32, *dbus.Error) {
	var code hresult.Code
	err := o.do(msg, func(ctx context.Context, m *engine.Manager, id string) (err error) {
		code, err = m.Complete(ctx, id)
		return err
	})
	return uint32(code), err
}

func (o jobObject) TakeOwnership(msg dbus.Message) *dbus.Error {
	return o.do(msg, func(ctx context.Context, m *engine.Manager, id string) error { return m.TakeOwnership(ctx, id) })
}

func (o jobObject) SetProxySettings(msg dbus.Message, usage uint32, list, bypass string) *dbus.Error {
	return o.set(msg, engine.Props{Proxy: &engine.ProxySettings{Usage: engine.ProxyUsage(usage), List: list, Bypass: bypass}})
}

// SetCustomHeaders replaces the job's headers, one "Name: value" each; none
// clears them.
func (o jobObject) SetCustomHeaders(msg dbus.Message, headers []string) *dbus.Error {
	h := strings.Join(headers, "\r\n")
	return o.set(msg, engine.Props{CustomHeaders: &h})
}

// MakeCustomHeadersWriteOnly hides the headers from every later read, for
// good.
func (o jobObject) MakeCustomHeadersWriteOnly(msg dbus.Message) *dbus.Error {
	return o.set(msg, engine.Props{MakeHeadersWriteOnly: true})
}

// SetClientCertificateByID names the client certificate by its SHA-1 hash.
func (o jobObject) SetClientCertificateByID(msg dbus.Message, location uint32, store string, hash []byte) *dbus.Error {
	return o.set(msg, engine.Props{ClientCert: &engine.ClientCert{StoreLocation: int(location), StoreName: store, Hash: hash}})
}

// SetClientCertificateByName names the client certificate by its subject.
func (o jobObject) SetClientCertificateByName(msg dbus.Message, location uint32, store, subject string) *dbus.Error {
	return o.set(msg, engine.Props{ClientCert: &engine.ClientCert{StoreLocation: int(location), StoreName: store, Subject: subject}})
}

func (o jobObject) RemoveClientCertificate(msg dbus.Message) *dbus.Error {
	return o.set(msg, engine.Props{RemoveClientCert: true})
}

// set changes the job's settings as p says.
func (o jobObject) set(msg dbus.Message, p engine.Props) *dbus.Error {
	return o.do(msg, func(ctx context.Context, m *engine.Manager, id string) error { return m.Set(ctx, id, p) })
}

func (o jobObject) SetCredentials(msg dbus.Message, target, scheme uint32, user, password string) *dbus.Error {
	return o.do(msg, func(ctx context.Context, m *engine.Manager, id string) error {
		return m.SetCredentials(ctx, id, engine.Credential{Target: engine.AuthTarget(target),
			Scheme: engine.AuthScheme(scheme), User: &user, Password: &password})
	})
}

func (o jobObject) RemoveCredentials(msg dbus.Message, target, scheme uint32) *dbus.Error {
	return o.do(msg, func(ctx context.Context, m *engine.Manager, id string) error {
		return m.RemoveCredentials(ctx, id, engine.AuthTarget(target), engine.AuthScheme(scheme))
	})
}

func (o jobObject) ReplaceRemotePrefix(msg dbus.Message, old, new string) (uint32, *dbus.Error) {
	var n int
	err := o.do(msg, func(ctx context.Context, m *engine.Manager, id string) (err error) {
		n, err = m.ReplaceRemotePrefix(ctx, id, old, new)
		return err
	})
	return uint32(n), err
}

// fileObject is IBackgroundCopyFile: all it has are properties.
type fileObject struct{}

// micros is a time as D-Bus APIs give them: microseconds since 1970; 0 for
// never.
func micros(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixMicro())
}

// size is a byte count, math.MaxUint64 while unknown (BG_SIZE_UNKNOWN).
func size(n int64) uint64 {
	if n < 0 {
		return math.MaxUint64
	}
	return uint64(n)
}

// NotifyCmdLine is the NotifyCmdLine property: (program, parameters).
type NotifyCmdLine struct{ Program, Parameters string }

// A jobProperty is a property of the Job interface: how to read it, and,
// for a writable one, how a new value changes the job.
type jobProperty struct {
	get func(*engine.Job) any
	set func(v dbus.Variant, p *engine.Props) error
}

// store decodes v into a new T and hands it to use.
func store[T any](use func(T, *engine.Props)) func(dbus.Variant, *engine.Props) error {
	return func(v dbus.Variant, p *engine.Props) error {
		var x T
		if err := v.Store(&x); err != nil {
			return err
		}
		use(x, p)
		return nil
	}
}

func seconds(d time.Duration) uint32 { return uint32(d / time.Second) }

// jobProperties are the Job interface's properties: the job's state and
// progress, and every setting of engine.Settings that has one value (the
// others have methods, or a property here). Made at first use: bitsjob
// starts for every command, and serves D-Bus only as the worker.
var jobProperties = sync.OnceValue(func() map[string]jobProperty {
	props := jobState
	for _, st := range engine.Settings() {
		if p, ok := settingProperty(st); ok {
			props[st.Name] = p
		}
	}
	return props
})

// settingProperty is a setting as a property, in the D-Bus type of its
// kind: seconds and flags are u, a limit t.
func settingProperty(st engine.Setting) (jobProperty, bool) {
	get := func(j *engine.Job) any { return st.Value(j) }
	var set func(dbus.Variant, *engine.Props) error
	switch st.Kind {
	case engine.KindText:
		set = store(func(v string, p *engine.Props) { st.Set(p, v) })
	case engine.KindPath:
		set = func(v dbus.Variant, p *engine.Props) error {
			var path string
			if err := v.Store(&path); err != nil {
				return err
			}
			if path != "" && !filepath.IsAbs(path) {
				return errors.New("not an absolute path")
			}
			st.Set(p, path)
			return nil
		}
	case engine.KindSeconds:
		get = func(j *engine.Job) any { return seconds(st.Value(j).(time.Duration)) }
		set = store(func(n uint32, p *engine.Props) { st.Set(p, time.Duration(n)*time.Second) })
	case engine.KindNumber, engine.KindACL, engine.KindCost:
		set = store(func(n uint32, p *engine.Props) { st.Set(p, n) })
	case engine.KindPriority:
		get = func(j *engine.Job) any { return uint32(st.Value(j).(engine.Priority)) }
		set = store(func(n uint32, p *engine.Props) { st.Set(p, engine.Priority(n)) })
	case engine.KindBool:
		set = store(func(b bool, p *engine.Props) { st.Set(p, b) })
	case engine.KindKbps:
		get = func(j *engine.Job) any { return uint64(st.Value(j).(int64)) }
		set = store(func(n uint64, p *engine.Props) { st.Set(p, int64(min(n, math.MaxInt64))) })
	default:
		return jobProperty{}, false
	}
	return jobProperty{get: get, set: set}, true
}

// jobState are the properties that are not settings.
var jobState = map[string]jobProperty{
	"Id":        {get: func(j *engine.Job) any { return j.ID }},
	"Type":      {get: func(j *engine.Job) any { return uint32(j.Type) }},
	"State":     {get: func(j *engine.Job) any { return uint32(j.State) }},
	"StateName": {get: func(j *engine.Job) any { return j.State.String() }},
	"Owner":     {get: func(j *engine.Job) any { return j.Owner }},
	"BytesTotal": {get: func(j *engine.Job) any {
		total, _, _, _ := j.Progress()
		return size(total)
	}},
	"BytesTransferred": {get: func(j *engine.Job) any {
		_, done, _, _ := j.Progress()
		return uint64(done)
	}},
	"FilesTotal": {get: func(j *engine.Job) any { return uint32(len(j.Files)) }},
	"FilesTransferred": {get: func(j *engine.Job) any {
		_, _, _, done := j.Progress()
		return uint32(done)
	}},
	"CreationTime":           {get: func(j *engine.Job) any { return micros(j.Created) }},
	"ModificationTime":       {get: func(j *engine.Job) any { return micros(j.Modified) }},
	"TransferCompletionTime": {get: func(j *engine.Job) any { return micros(j.TransferCompleted) }},
	"ErrorCount":             {get: func(j *engine.Job) any { return uint32(j.ErrorCount) }},
	"ErrorCode": {get: func(j *engine.Job) any {
		if j.Err == nil {
			return uint32(0)
		}
		return uint32(j.Err.Code)
	}},
	"ErrorContext": {get: func(j *engine.Job) any {
		if j.Err == nil {
			return uint32(0)
		}
		return uint32(j.Err.Context)
	}},
	"ErrorDescription": {get: func(j *engine.Job) any {
		if j.Err == nil {
			return ""
		}
		return describe(j.Err)
	}},
	"ProxyUsage":      {get: func(j *engine.Job) any { return uint32(j.ProxyUsage) }},
	"ProxyList":       {get: func(j *engine.Job) any { return j.ProxyList }},
	"ProxyBypassList": {get: func(j *engine.Job) any { return j.ProxyBypassList }},
	"NotifyCmdLine": {get: func(j *engine.Job) any { return NotifyCmdLine{j.NotifyProgram, j.NotifyParameters} },
		set: store(func(c NotifyCmdLine, p *engine.Props) {
			p.NotifyCmdLine = &engine.NotifyCmdLine{Program: c.Program, Parameters: c.Parameters}
		})},
}

func jobValues(j *engine.Job) map[string]any {
	props := jobProperties()
	out := make(map[string]any, len(props))
	for name, p := range props {
		out[name] = p.get(j)
	}
	return out
}

func fileValues(f engine.File) map[string]any {
	return map[string]any{
		"Index":            uint32(f.Index),
		"RemoteName":       f.RemoteName,
		"LocalName":        f.LocalName,
		"BytesTotal":       size(f.BytesTotal),
		"BytesTransferred": uint64(f.BytesTransferred),
		"Completed":        f.Complete,
		"ValidationState":  f.Validation == engine.Valid,
	}
}

// properties is org.freedesktop.DBus.Properties for jobs and files.
type properties struct{ s *service }

// values reads the properties of the object a call is about.
func (o properties) values(msg dbus.Message, iface string) (map[string]any, *dbus.Error) {
	p, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	id, file, ok := parsePath(p)
	switch {
	case !ok:
		return nil, unknownObject(p)
	case (file < 0 && iface != JobIface) || (file >= 0 && iface != FileIface):
		return nil, dbus.NewError("org.freedesktop.DBus.Error.UnknownInterface", []any{"no interface " + iface + " at " + string(p)})
	}
	var out map[string]any
	err := o.s.with(msg, id, func(ctx context.Context, m *engine.Manager) *dbus.Error {
		j, err := m.Get(ctx, id)
		switch {
		case err != nil:
			return fail(err)
		case file < 0:
			out = jobValues(j)
		case file < len(j.Files):
			out = fileValues(j.Files[file])
		default:
			return unknownObject(p)
		}
		return nil
	})
	return out, err
}

func (o properties) Get(msg dbus.Message, iface, name string) (dbus.Variant, *dbus.Error) {
	vs, err := o.values(msg, iface)
	if err != nil {
		return dbus.Variant{}, err
	}
	v, ok := vs[name]
	if !ok {
		return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.UnknownProperty", []any{"no property " + name})
	}
	return dbus.MakeVariant(v), nil
}

func (o properties) GetAll(msg dbus.Message, iface string) (map[string]dbus.Variant, *dbus.Error) {
	vs, err := o.values(msg, iface)
	if err != nil {
		return nil, err
	}
	out := make(map[string]dbus.Variant, len(vs))
	for k, v := range vs {
		out[k] = dbus.MakeVariant(v)
	}
	return out, nil
}

func (o properties) Set(msg dbus.Message, iface, name string, v dbus.Variant) *dbus.Error {
	p, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	id, file, ok := parsePath(p)
	if !ok {
		return unknownObject(p)
	}
	if file >= 0 {
		var valid bool
		if iface != FileIface || name != "ValidationState" {
			return dbus.NewError("org.freedesktop.DBus.Error.PropertyReadOnly", []any{name + " cannot be set"})
		}
		if err := v.Store(&valid); err != nil {
			return invalidArgs("ValidationState is a boolean")
		}
		return o.s.with(msg, id, func(ctx context.Context, m *engine.Manager) *dbus.Error {
			return fail(m.SetValidationState(ctx, id, file, valid))
		})
	}
	prop, ok := jobProperties()[name]
	switch {
	case iface != JobIface || !ok:
		return dbus.NewError("org.freedesktop.DBus.Error.UnknownProperty", []any{"no property " + name})
	case prop.set == nil:
		return dbus.NewError("org.freedesktop.DBus.Error.PropertyReadOnly", []any{name + " cannot be set"})
	}
	var props engine.Props
	if err := prop.set(v, &props); err != nil {
		return invalidArgs(name + ": " + err.Error())
	}
	return o.s.with(msg, id, func(ctx context.Context, m *engine.Manager) *dbus.Error { return fail(m.Set(ctx, id, props)) })
}

func unknownObject(p dbus.ObjectPath) *dbus.Error {
	return dbus.NewError("org.freedesktop.DBus.Error.UnknownObject", []any{"no object at " + string(p)})
}

// introspectable describes every object: its interfaces, from
// org.bits.Transfer1.xml, and its children.
type introspectable struct{ s *service }

// interfaces are the interfaces of org.bits.Transfer1.xml, by name.
var interfaces = sync.OnceValue(func() map[string]introspect.Interface {
	var n introspect.Node
	if err := xml.Unmarshal([]byte(introspection), &n); err != nil {
		panic("org.bits.Transfer1.xml: " + err.Error())
	}
	out := map[string]introspect.Interface{}
	for _, i := range n.Interfaces {
		out[i.Name] = i
	}
	return out
})

var standard = []introspect.Interface{introspect.IntrospectData, {Name: "org.freedesktop.DBus.Peer",
	Methods: []introspect.Method{{Name: "Ping"}, {Name: "GetMachineId", Args: []introspect.Arg{{Name: "machine_uuid", Type: "s", Direction: "out"}}}}}}

var propertiesData = introspect.Interface{Name: propertiesName,
	Methods: []introspect.Method{
		{Name: "Get", Args: []introspect.Arg{{Name: "interface_name", Type: "s", Direction: "in"}, {Name: "property_name", Type: "s", Direction: "in"}, {Name: "value", Type: "v", Direction: "out"}}},
		{Name: "GetAll", Args: []introspect.Arg{{Name: "interface_name", Type: "s", Direction: "in"}, {Name: "properties", Type: "a{sv}", Direction: "out"}}},
		{Name: "Set", Args: []introspect.Arg{{Name: "interface_name", Type: "s", Direction: "in"}, {Name: "property_name", Type: "s", Direction: "in"}, {Name: "value", Type: "v", Direction: "in"}}},
	},
	Signals: []introspect.Signal{{Name: "PropertiesChanged", Args: []introspect.Arg{{Name: "interface_name", Type: "s"}, {Name: "changed_properties", Type: "a{sv}"}, {Name: "invalidated_properties", Type: "as"}}}},
}

func (o introspectable) Introspect(msg dbus.Message) (string, *dbus.Error) {
	p, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	n := introspect.Node{Interfaces: slices.Clone(standard)}
	children := func(names ...string) {
		for _, c := range names {
			n.Children = append(n.Children, introspect.Node{Name: c})
		}
	}
	ctx, cancel := call()
	defer cancel()
	switch _, file, ok := parsePath(p); {
	case p == "/" || p == "/org" || p == "/org/bits":
		children(map[dbus.ObjectPath]string{"/": "org", "/org": "bits", "/org/bits": "Transfer1"}[p])
	case p == ManagerPath:
		n.Interfaces = append(n.Interfaces, interfaces()[ManagerIface])
		children("job")
	case p == jobsPath:
		err := o.s.m.EachSummary(ctx, func(s engine.Summary) error {
			children(string(JobPath(s.ID))[len(jobsPath)+1:])
			return nil
		})
		if err != nil {
			return "", fail(err)
		}
	case ok && file < 0:
		n.Interfaces = append(n.Interfaces, propertiesData, interfaces()[JobIface])
		children("file")
	case ok:
		n.Interfaces = append(n.Interfaces, propertiesData, interfaces()[FileIface])
	default:
		files, isFiles := parseFiles(p)
		if !isFiles {
			return "", unknownObject(p)
		}
		m, release, err := o.s.manager(ctx, files)
		if err != nil {
			return "", fail(err)
		}
		defer release()
		j, err := m.Get(ctx, files)
		if err != nil {
			return "", fail(err)
		}
		for _, f := range j.Files {
			children(strconv.Itoa(f.Index))
		}
	}
	b, err := xml.MarshalIndent(n, "", "  ")
	if err != nil {
		return "", dbus.MakeFailedError(err)
	}
	return introspect.IntrospectDeclarationString + string(b), nil
}

// parseFiles reads the job of a job's file folder: JOB_PATH/file.
func parseFiles(p dbus.ObjectPath) (string, bool) {
	const suffix = "/file"
	if len(p) <= len(suffix) || p[len(p)-len(suffix):] != suffix {
		return "", false
	}
	id, file, ok := parsePath(p[:len(p)-len(suffix)])
	return id, ok && file < 0
}
