package engine

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// readBootID names the running boot: a power cut or a reboot changes it.
func readBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// syncWhole syncs the file systems that hold files, one call each
// (syncfs), when they are the most of what the machine has yet to write:
// then it costs one flush of the disk's cache where a sync of each file
// costs one each. It reports false when it did not try, leaving the files
// to be synced one by one: another program's unwritten gigabytes are not
// this job's to wait for, nor to write early.
func syncWhole(files []File, size int64) (bool, error) {
	if dirty, ok := unwritten(); !ok || dirty > 2*size+16<<20 {
		return false, nil
	}
	synced := map[uint64]bool{}
	seen := map[string]bool{}
	for _, f := range files {
		dir := filepath.Dir(f.TempName)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		d, err := os.Open(dir)
		if err != nil {
			return true, localError(f.TempName, err)
		}
		var st unix.Stat_t
		err = unix.Fstat(int(d.Fd()), &st)
		if err == nil && !synced[st.Dev] {
			synced[st.Dev] = true
			err = unix.Syncfs(int(d.Fd()))
		}
		d.Close()
		if err != nil {
			return true, localError(f.TempName, err)
		}
	}
	return true, nil
}

// unwritten is how many bytes the machine holds that are not yet written
// to their disks, or are being written.
func unwritten() (int64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	var total int64
	found := 0
	for s := bufio.NewScanner(bytes.NewReader(b)); s.Scan(); {
		name, rest, _ := strings.Cut(s.Text(), ":")
		if name != "Dirty" && name != "Writeback" {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, false
		}
		total += kb << 10
		found++
	}
	return total, found == 2
}
