//go:build !linux && !darwin

package engine

import "os"

// birth is not known here: identities are device and inode only.
func birth(*os.File) (int64, bool) { return 0, false }
