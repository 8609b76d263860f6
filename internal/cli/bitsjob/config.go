package bitsjob

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"bits/engine"
	"bits/engine/policy"
	"bits/engine/spawn"
)

// settingJSON is one setting of the policy file.
type settingJSON struct {
	SchemaVersion int `json:",omitempty"`
	Name          string
	Value         string
	Default       bool // the file does not set it: Value is the default
	Description   string
}

// configJSON is what `config --json` prints.
type configJSON struct {
	SchemaVersion int
	File          string
	Settings      []settingJSON
}

func newConfigCmd(e *env) *cobra.Command {
	file := policy.Path()
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show or change the policy: limits, scheduling, bandwidth, network cost",
		Long: `Show every setting of the policy file with its value, or change one. The file
is ` + policy.DefaultFile + ` unless $BITS_POLICY names another; changing it
takes root when it is the default one. A running worker applies a change within
a second. docs/policy.md describes each setting.`,
		Example: `  bitsjob config
  bitsjob config set WorkLimitLow 128
  bitsjob config set NetworkCost Capped
  bitsjob config unset WorkLimitLow`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			settings, err := policy.Settings(file)
			if err != nil {
				return &opError{action: "read the policy file", err: err}
			}
			return e.printSettings(e.stdout, file, settings)
		},
	}
	cmd.PersistentFlags().StringVar(&file, "file", file, "the policy file")
	get := &cobra.Command{
		Use:   "get NAME",
		Short: "Show one setting",
		Args:  nArgs(1, "the setting's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := findSetting(file, args[0])
			if err != nil {
				return err
			}
			if e.json {
				s.SchemaVersion = SchemaVersion
				return writeJSON(e.stdout, s)
			}
			_, err = fmt.Fprintln(e.stdout, s.Value)
			return err
		},
	}
	set := &cobra.Command{
		Use:   "set NAME VALUE",
		Short: "Change one setting",
		Args:  nArgs(2, "the setting's name and value"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(args[1]) == "" {
				return usageErr("give a value, or use unset to go back to the default")
			}
			return e.setSetting(file, args[0], args[1])
		},
	}
	unset := &cobra.Command{
		Use:   "unset NAME",
		Short: "Take a setting out of the file: it goes back to its default",
		Args:  nArgs(1, "the setting's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.setSetting(file, args[0], "")
		},
	}
	set.Flags().SetInterspersed(false) // flags come before NAME: after it, -5 is a value
	cmd.AddCommand(get, set, unset)
	return cmd
}

// findSetting returns the setting called name, in any case.
func findSetting(file, name string) (settingJSON, error) {
	settings, err := policy.Settings(file)
	if err != nil {
		return settingJSON{}, &opError{action: "read the policy file", err: err}
	}
	for _, s := range settings {
		if strings.EqualFold(s.Name, name) {
			return settingJSON{Name: s.Name, Value: s.Value, Default: !s.Set, Description: s.Help}, nil
		}
	}
	return settingJSON{}, usageErr("%q is not a setting (bitsjob config lists them)", name)
}

// setSetting changes one setting (value "" takes it out) and nudges the
// worker so that it applies the change now.
func (e *env) setSetting(file, name, value string) error {
	if _, err := findSetting(file, name); err != nil {
		return err
	}
	if err := policy.Set(file, name, value); err != nil {
		var bad *policy.SettingError
		if errors.As(err, &bad) {
			return usageErr("%v", err)
		}
		return &opError{action: "write the policy file", err: err}
	}
	if home, err := engine.ResolveHome(""); err == nil {
		spawn.Nudge(home)
	}
	if !e.json {
		return nil
	}
	s, err := findSetting(file, name)
	if err != nil {
		return err
	}
	s.SchemaVersion = SchemaVersion
	return writeJSON(e.stdout, s)
}

func (e *env) printSettings(w io.Writer, file string, settings []policy.Setting) error {
	if e.json {
		out := configJSON{SchemaVersion: SchemaVersion, File: file, Settings: []settingJSON{}}
		for _, s := range settings {
			out.Settings = append(out.Settings, settingJSON{Name: s.Name, Value: s.Value, Default: !s.Set, Description: s.Help})
		}
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "# %s\n", file)
	t := newTable(w, "SETTING", "VALUE", "")
	for _, s := range settings {
		note := ""
		if !s.Set {
			note = "(default)"
		}
		v := s.Value
		if v == "" {
			v = "-"
		}
		t.Append([]string{s.Name, v, note})
	}
	t.Render()
	return nil
}
