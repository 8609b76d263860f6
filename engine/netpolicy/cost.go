package netpolicy

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Cost states (BITS_COST_STATE_*). A network has one of the low eight
// bits; a job's transfer policy is a mask of the states it may transfer
// in.
const (
	CostUnrestricted     uint32 = 0x1  // no cost: most wired and Wi-Fi networks
	CostCapped           uint32 = 0x2  // metered, with a cap that is not known
	CostBelowCap         uint32 = 0x4  // metered, well below the cap
	CostNearCap          uint32 = 0x8  // metered, near the cap
	CostOverCapCharged   uint32 = 0x10 // over the cap, charged for
	CostOverCapThrottled uint32 = 0x20 // over the cap, throttled by the carrier
	CostUsageBased       uint32 = 0x40 // paid by the byte
	CostRoaming          uint32 = 0x80 // a mobile network abroad

	// PolicyUnrestricted allows only networks without a cost (and those
	// already throttled to a crawl): the default here, so that nothing
	// runs on a metered network unless a job or the policy allows it.
	PolicyUnrestricted uint32 = 0x80000021
	// PolicyAlways allows every network.
	PolicyAlways uint32 = 0x800000FF

	costStateBits uint32 = 0xFF
)

type costName struct {
	name  string
	value uint32
}

// costNames are PowerShell's CostStates members, single states first.
var costNames = []costName{
	{"Unrestricted", CostUnrestricted}, {"Capped", CostCapped}, {"BelowCap", CostBelowCap},
	{"NearCap", CostNearCap}, {"OverCapCharged", CostOverCapCharged},
	{"OverCapThrottled", CostOverCapThrottled}, {"UsageBased", CostUsageBased}, {"Roaming", CostRoaming},
	{"IgnoreCongestion", 0x80000000}, {"PolicyUnrestricted", PolicyUnrestricted}, {"Standard", 0x80000067},
	{"NoSurcharge", 0x8000006F}, {"NotRoaming", 0x8000007F}, {"Always", PolicyAlways},
}

// Allows says whether a transfer policy lets a job run on a network that
// costs cost (one state, or several when the source is not sure).
func Allows(policy, cost uint32) bool {
	return policy&cost&costStateBits == cost&costStateBits
}

// FormatCostStates writes a cost mask as .NET writes a [Flags] enum: the
// largest members that make it up, in ascending order, joined by ", ";
// "None" for 0, and the number when some bit has no name.
func FormatCostStates(v uint32) string {
	if v == 0 {
		return "None"
	}
	members := slices.Clone(costNames)
	slices.SortFunc(members, func(a, b costName) int {
		return cmp.Compare(b.value, a.value)
	})
	rest := v
	var names []string
	for _, m := range members {
		if rest&m.value == m.value && rest != 0 {
			names = append([]string{m.name}, names...)
			rest &^= m.value
		}
	}
	if rest != 0 {
		return strconv.FormatUint(uint64(v), 10)
	}
	return strings.Join(names, ", ")
}

// ParseCostStates reads CostStates names separated by commas, blanks or
// '|', in any case, or a number (decimal or 0x hexadecimal).
func ParseCostStates(s string) (uint32, error) {
	if n, err := strconv.ParseUint(strings.TrimSpace(s), 0, 32); err == nil {
		return uint32(n), nil
	}
	words := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '|' })
	if len(words) == 0 {
		return 0, fmt.Errorf("no cost states in %q", s)
	}
	var v uint32
	for _, w := range words {
		if strings.EqualFold(w, "None") {
			continue
		}
		i := slices.IndexFunc(costNames, func(c costName) bool {
			return strings.EqualFold(c.name, w)
		})
		if i < 0 {
			return 0, fmt.Errorf("%q is not a cost state", w)
		}
		v |= costNames[i].value
	}
	return v, nil
}
