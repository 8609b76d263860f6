package bitsjob

import (
	"reflect"
	"testing"

	"github.com/spf13/pflag"
)

// Every field of engine.Props has a flag: set names the display name, the
// shared settings all the rest. A new field in the engine fails this test
// until bitsjob can set it.
func TestSettingsCoverEveryProp(t *testing.T) {
	var s settings
	fs := pflag.NewFlagSet("set", pflag.ContinueOnError)
	s.register(fs)
	err := fs.Parse([]string{
		"--description=d", "--priority=low", "--retry-interval=60", "--retry-timeout=60",
		"--max-download-time=60", "--notify-flags=1", "--notify-cmdline=/bin/true",
		"--proxy-usage=override", "--proxy-list=p:1", "--proxy-bypass=h",
		"--custom-header=X-A: 1", "--custom-headers-write-only", "--http-method=PUT",
		"--security-flags=1", "--cert-store-location=CURRENT_USER", "--cert-store-name=MY",
		"--cert-hash=00", "--cert-subject=s", "--remove-client-cert", "--acl-flags=o",
		"--peer-caching-flags=1", "--helper-token=a", "--helper-token-flags=1",
		"--reply-file=/tmp/r", "--dynamic", "--transfer-policy=Always", "--max-bandwidth=64",
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.props(fs)
	if err != nil {
		t.Fatal(err)
	}
	if findCommand(newRoot(&env{}), []string{"set"}).Flags().Lookup("name") == nil {
		t.Error("bitsjob set has no --name")
	}
	name := "x"
	p.DisplayName = &name // set's own --name
	v := reflect.ValueOf(p)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("no flag sets engine.Props.%s", v.Type().Field(i).Name)
		}
	}
}
