// Package writeback starts writing a file's data to disk while the program
// goes on writing more, so that the fsync which makes it durable finds
// little left to do: a download or an upload is then durable at about the
// disk's speed, not the network's plus the disk's.
package writeback
