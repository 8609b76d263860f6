package netpolicy

import (
	"fmt"
	"strconv"
	"strings"
)

// Kbps is a bandwidth in kilobits (1000 bits) per second, the unit of the
// BITS bandwidth policies. Unlimited means no limit; 0 means none at all:
// the transfers it applies to wait.
type Kbps int64

const Unlimited Kbps = -1

// minKbps is the smallest limit that still moves bytes: BITS treats values
// below 2 Kbps as about 2.
const minKbps Kbps = 2

// ParseKbps reads a whole number of Kbps or "unlimited".
func ParseKbps(s string) (Kbps, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "unlimited") {
		return Unlimited, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return 0, fmt.Errorf("%q is neither a number of Kbps nor unlimited", s)
	}
	return Kbps(n), nil
}

func (k Kbps) String() string {
	if k < 0 {
		return "unlimited"
	}
	return strconv.FormatInt(int64(k), 10)
}

// BytesPerSecond converts a limit for pacing; it is meaningless for
// Unlimited and 0, which callers handle first.
func (k Kbps) BytesPerSecond() float64 {
	return float64(max(k, minKbps)) * 1000 / 8
}

// Tighter returns the stricter of two limits.
func (k Kbps) Tighter(o Kbps) Kbps {
	switch {
	case k < 0:
		return o
	case o < 0:
		return k
	}
	return min(k, o)
}
