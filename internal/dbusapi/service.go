// Package dbusapi offers the jobs of one store on D-Bus: the counterpart of
// BITS' COM interfaces for programs in any language. docs/dbus.md is the
// reference; org.bits.Transfer1.xml is the interface.
package dbusapi

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"

	"bits/engine"
	"bits/hresult"
)

// The names of the service, version 1.
const (
	Name         = "org.bits.Transfer1"
	ManagerPath  = dbus.ObjectPath("/org/bits/Transfer1")
	ManagerIface = Name + ".Manager"
	JobIface     = Name + ".Job"
	FileIface    = Name + ".File"
	// ErrorPrefix starts the name of every error the service returns; the
	// code's Windows name ends it: org.bits.Transfer1.Error.BG_E_NOT_FOUND.
	ErrorPrefix = Name + ".Error."

	jobsPath       = ManagerPath + "/job"
	propertiesName = "org.freedesktop.DBus.Properties"
	introspectName = "org.freedesktop.DBus.Introspectable"
)

//go:embed org.bits.Transfer1.xml
var introspection string

// ErrNameTaken is returned by Serve when another process owns the name.
var ErrNameTaken = errors.New("another process owns " + Name + " on this bus")

// Options change what Serve offers.
type Options struct {
	// AllUsers serves every user's jobs, to root only: the service of the
	// system bus in the machine-wide mode. Job objects and GetJob reach
	// any user's job, ListAllJobs lists them all, and a call from anyone
	// but root gets E_ACCESSDENIED. Signals come for m's own jobs: other
	// users' jobs are told on their own session bus by their worker.
	AllUsers bool
}

// Serve offers m's jobs on conn under Name until ctx ends, and tells the
// changes to every job as signals. It returns ErrNameTaken if another
// process has the name.
func Serve(ctx context.Context, m *engine.Manager, conn *dbus.Conn, log *slog.Logger, o Options) error {
	s := &service{m: m, conn: conn, log: log, allUsers: o.AllUsers, told: map[dbus.ObjectPath]map[string]any{}}
	w, err := m.Watch(ctx) // before the name is taken: no change is missed
	if err != nil {
		return err
	}
	defer w.Close()
	exports := []struct {
		v       any
		path    dbus.ObjectPath
		iface   string
		subtree bool
	}{
		{managerObject{s}, ManagerPath, ManagerIface, false},
		// Calls go to the object of the longest path that has one: every
		// object path gets its Introspectable.
		{introspectable{s}, "/", introspectName, true},
		{introspectable{s}, ManagerPath, introspectName, false},
		{introspectable{s}, jobsPath, introspectName, true},
		{jobObject{s}, jobsPath, JobIface, true},
		{fileObject{}, jobsPath, FileIface, true},
		{properties{s}, jobsPath, propertiesName, true},
	}
	for _, e := range exports {
		var err error
		if e.subtree {
			err = conn.ExportSubtree(e.v, e.path, e.iface)
		} else {
			err = conn.Export(e.v, e.path, e.iface)
		}
		if err != nil {
			return err
		}
	}
	reply, err := conn.RequestName(Name, dbus.NameFlagDoNotQueue)
	if err != nil {
		return err
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		return ErrNameTaken
	}
	defer conn.ReleaseName(Name)
	log.Info("D-Bus service", "name", Name, "all-users", o.AllUsers)
	for c := range w.Changes() {
		s.tell(c)
	}
	if err := w.Err(); !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

type service struct {
	m        *engine.Manager
	conn     *dbus.Conn
	log      *slog.Logger
	allUsers bool
	// told holds the properties of each job and file as last signalled,
	// for the jobs that changed while the service ran: PropertiesChanged
	// carries what moved.
	told map[dbus.ObjectPath]map[string]any
}

// JobPath is the object path of a job.
func JobPath(id string) dbus.ObjectPath {
	return jobsPath + "/" + dbus.ObjectPath(strings.ReplaceAll(id, "-", "_"))
}

// FilePath is the object path of a job's file.
func FilePath(id string, index int) dbus.ObjectPath {
	return JobPath(id) + "/file/" + dbus.ObjectPath(strconv.Itoa(index))
}

// parsePath reads a job's GUID, and a file's index or -1, from an object
// path.
func parsePath(p dbus.ObjectPath) (id string, file int, ok bool) {
	rest, ok := strings.CutPrefix(string(p), string(jobsPath)+"/")
	if !ok {
		return "", 0, false
	}
	guid, idx, isFile := strings.Cut(rest, "/file/")
	id, ok = engine.ParseGUID("{" + strings.ReplaceAll(guid, "_", "-") + "}")
	if !ok || strings.Contains(guid, "-") {
		return "", 0, false
	}
	if !isFile {
		return id, -1, true
	}
	n, err := strconv.Atoi(idx)
	if err != nil || n < 0 || strconv.Itoa(n) != idx {
		return "", 0, false
	}
	return id, n, true
}

// tell signals a change: PropertiesChanged of the job and of its files
// with what moved, JobModification, then the callback's own signal.
func (s *service) tell(c engine.Change) {
	path := JobPath(c.ID)
	if c.Kind == engine.ChangeRemoved {
		for p := range s.told {
			if p == path || strings.HasPrefix(string(p), string(path)+"/") {
				delete(s.told, p)
			}
		}
		return
	}
	emit := func(path dbus.ObjectPath, member string, args ...any) {
		if err := s.conn.Emit(path, member, args...); err != nil {
			s.log.Warn("D-Bus signal", "signal", member, "err", err)
		}
	}
	switch c.Kind {
	case engine.ChangeModified:
		for _, f := range c.Job.Files {
			if moved := s.moved(FilePath(c.ID, f.Index), fileValues(f)); len(moved) > 0 {
				emit(FilePath(c.ID, f.Index), propertiesName+".PropertiesChanged", FileIface, moved, []string{})
			}
		}
		if moved := s.moved(path, jobValues(c.Job)); len(moved) > 0 {
			emit(path, propertiesName+".PropertiesChanged", JobIface, moved, []string{})
		}
		emit(path, JobIface+".JobModification")
	case engine.ChangeTransferred:
		emit(path, JobIface+".JobTransferred")
	case engine.ChangeError:
		e := c.Job.Err
		if e == nil {
			e = &engine.JobError{Code: hresult.BG_E_ERROR_INFORMATION_UNAVAILABLE}
		}
		emit(path, JobIface+".JobError", uint32(e.Code), uint32(e.Context), describe(e))
	}
}

// moved returns the properties of the object at path that differ from
// those last signalled (all of them the first time), and keeps now.
func (s *service) moved(path dbus.ObjectPath, now map[string]any) map[string]dbus.Variant {
	was := s.told[path]
	out := map[string]dbus.Variant{}
	for name, v := range now {
		if old, ok := was[name]; !ok || old != v {
			out[name] = dbus.MakeVariant(v)
		}
	}
	s.told[path] = now
	return out
}

// describe is an error's text as the CLIs print it.
func describe(e *engine.JobError) string {
	if e.Msg != "" {
		return e.Msg
	}
	return e.Code.Message()
}

// fail is err as a D-Bus error named after its BITS code, with the text
// bitsjob prints.
func fail(err error) *dbus.Error {
	if err == nil {
		return nil
	}
	e := hresult.From(err)
	if errors.Is(err, engine.ErrAmbiguous) {
		e = &hresult.Error{Code: hresult.E_INVALIDARG, Msg: err.Error()}
	}
	return dbus.NewError(ErrorPrefix+e.Code.Name(), []any{e.Text()})
}

// job finds the job a call is about, by its object path.
func (s *service) job(msg dbus.Message) (string, *dbus.Error) {
	p, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	id, file, ok := parsePath(p)
	if !ok || file >= 0 {
		return "", unknownObject(p)
	}
	return id, nil
}

// allow refuses a call to the all-users service from anyone but root, as
// the bus daemon vouches for the caller.
func (s *service) allow(msg dbus.Message) *dbus.Error {
	if !s.allUsers {
		return nil // the session bus admits its user alone
	}
	sender, _ := msg.Headers[dbus.FieldSender].Value().(string)
	var uid uint32
	err := s.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixUser", 0, sender).Store(&uid)
	if err != nil {
		return fail(err)
	}
	if uid != 0 {
		return fail(&hresult.Error{Code: hresult.E_ACCESSDENIED, Context: hresult.ContextGeneralQueueManager,
			Msg: "the system bus's service is root's: other users use their session bus"})
	}
	return nil
}

// with runs f for a call about job id once the caller is allowed, with the
// Manager of the job's store and a bounded context.
func (s *service) with(msg dbus.Message, id string, f func(ctx context.Context, m *engine.Manager) *dbus.Error) *dbus.Error {
	if err := s.allow(msg); err != nil {
		return err
	}
	ctx, cancel := call()
	defer cancel()
	m, release, err := s.manager(ctx, id)
	if err != nil {
		return fail(err)
	}
	defer release()
	return f(ctx, m)
}

// manager returns the Manager of the store that holds job id, and what
// releases it.
func (s *service) manager(ctx context.Context, id string) (*engine.Manager, func(), error) {
	if !s.allUsers {
		return s.m, func() {}, nil
	}
	_, m, err := s.m.FindAnyUser(ctx, "{"+id+"}")
	if err != nil {
		return nil, nil, err
	}
	return m, func() {
		if m != s.m {
			m.Close()
		}
	}, nil
}

// SessionBus connects to the user's session bus, if there is one: the bus
// that started this process for its name ($DBUS_STARTER_ADDRESS), the one
// $DBUS_SESSION_BUS_ADDRESS names, else systemd's per-user bus. It never
// starts a bus (dbus-launch): a worker without one serves no D-Bus.
func SessionBus() (*dbus.Conn, error) {
	addr := cmp.Or(os.Getenv("DBUS_STARTER_ADDRESS"), os.Getenv("DBUS_SESSION_BUS_ADDRESS"))
	if addr == "" {
		p := filepath.Join("/run/user", strconv.Itoa(os.Getuid()), "bus")
		if _, err := os.Stat(p); err != nil {
			return nil, errors.New("no session bus: $DBUS_SESSION_BUS_ADDRESS is not set and " + p + " does not exist")
		}
		addr = "unix:path=" + p
	}
	return connect("session", addr)
}

// SystemBus connects to the system bus: $DBUS_SYSTEM_BUS_ADDRESS, else the
// standard socket.
func SystemBus() (*dbus.Conn, error) {
	return connect("system", cmp.Or(os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"), "unix:path=/run/dbus/system_bus_socket"))
}

func connect(bus, addr string) (*dbus.Conn, error) {
	conn, err := dbus.Connect(addr)
	if err != nil {
		return nil, fmt.Errorf("%s bus %s: %w", bus, addr, err)
	}
	return conn, nil
}
