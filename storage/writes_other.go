//go:build !linux

package storage

// fileWrites would tell of writes to a database's files; where inotify is
// missing, Changes polls instead.
type fileWrites struct{ c chan struct{} }

func watchWrites(string) *fileWrites { return nil }

func (*fileWrites) close() {}
