package engine

import (
	"context"

	"bits/storage"
)

// StoreWrites returns how many write transactions m's store committed.
func StoreWrites(m *Manager) int64 { return m.store.Writes() }

// FileWindow is how many files of a download job move at once.
const FileWindow = fileWindow

// BootID names the running boot as the engine knows it.
func BootID() string { return bootID() }

// RecordUnsynced records file i of job id complete, its size bytes in the
// temporary file temp, unsynced in boot, as a worker of that boot would.
func RecordUnsynced(m *Manager, id string, i int, temp string, size int64, boot string) error {
	return m.store.Update(context.Background(), func(tx *storage.Tx) error {
		_, err := tx.SetFileProgress(id, i, storage.FileProgress{TempName: temp, BytesTotal: size, BytesDone: size,
			Complete: true, UnsyncedBoot: boot})
		return err
	})
}
