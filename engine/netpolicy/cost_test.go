package netpolicy

import "testing"

func TestCostStates(t *testing.T) {
	for _, c := range []struct {
		v    uint32
		name string
	}{
		{0, "None"}, {0x1, "Unrestricted"}, {0xC, "BelowCap, NearCap"}, {0x800000FF, "Always"},
		{0x80000021, "PolicyUnrestricted"}, {0x80000001, "Unrestricted, IgnoreCongestion"},
		{0x8000007F, "NotRoaming"}, {0x40000000, "1073741824"},
	} {
		if got := FormatCostStates(c.v); got != c.name {
			t.Errorf("FormatCostStates(%#x) = %q, want %q", c.v, got, c.name)
		}
		if c.v == 0x40000000 {
			continue
		}
		if got, err := ParseCostStates(c.name); err != nil || got != c.v {
			t.Errorf("ParseCostStates(%q) = %#x, %v", c.name, got, err)
		}
	}
	for _, s := range []string{"always", "0x800000FF", "2147483903"} {
		if got, err := ParseCostStates(s); err != nil || got != 0x800000FF {
			t.Errorf("ParseCostStates(%q) = %#x, %v", s, got, err)
		}
	}
	if _, err := ParseCostStates("Cheap"); err == nil {
		t.Error("an unknown cost state was accepted")
	}
}

func TestAllows(t *testing.T) {
	for _, c := range []struct {
		policy, cost uint32
		want         bool
	}{
		{PolicyUnrestricted, CostUnrestricted, true},
		{PolicyUnrestricted, CostCapped, false}, // metered: not by default
		{PolicyUnrestricted, CostOverCapThrottled, true},
		{0x80000067, CostCapped, true},   // Standard
		{0x80000067, CostRoaming, false}, // Standard
		{0x8000007F, CostNearCap, true},  // NotRoaming
		{0x8000007F, CostRoaming, false},
		{PolicyAlways, CostRoaming, true},
		{CostUsageBased, CostUsageBased, true},
		{CostUsageBased | CostRoaming, CostUsageBased | CostRoaming, true}, // both states allowed
		{CostUsageBased, CostUsageBased | CostRoaming, false},
	} {
		if got := Allows(c.policy, c.cost); got != c.want {
			t.Errorf("Allows(%s, %s) = %v", FormatCostStates(c.policy), FormatCostStates(c.cost), got)
		}
	}
}
