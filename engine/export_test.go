package engine

// StoreWrites returns how many write transactions m's store committed.
func StoreWrites(m *Manager) int64 { return m.store.Writes() }

// FileWindow is how many files of a download job move at once.
const FileWindow = fileWindow
