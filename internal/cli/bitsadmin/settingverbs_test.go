package bitsadmin

import (
	"testing"

	"bits/engine"
)

// TestSettingVerbsListed checks that every setting's /SET and /GET verbs
// are in the table, placed there or added after it, once each.
func TestSettingVerbsListed(t *testing.T) {
	count := map[string]int{}
	for _, v := range verbs {
		count[v.name]++
	}
	for _, s := range engine.Settings() {
		if s.Verb == "" {
			continue
		}
		if s.SetHelp != "" && count["/SET"+s.Verb] != 1 {
			t.Errorf("/SET%s listed %d times", s.Verb, count["/SET"+s.Verb])
		}
		if s.GetHelp != "" && count["/GET"+s.Verb] != 1 {
			t.Errorf("/GET%s listed %d times", s.Verb, count["/GET"+s.Verb])
		}
	}
	if extra := unplacedSettingVerbs(verbs); len(extra) != 0 {
		t.Errorf("%d setting verbs left unplaced", len(extra))
	}
}
