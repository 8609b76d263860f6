package engine

import (
	"testing"
	"time"
)

// Chunks carry about a quarter second of the upload, in powers of two from
// 1 MiB to 64 MiB, and end at multiples of their size, so a slow link
// records progress every MiB and a fast one pays the per-chunk costs
// rarely.
func TestUploadChunkSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		took time.Duration
		want int64
	}{
		{1 << 20, 4 * time.Second, 1 << 20},          // 256 KiB/s
		{1 << 20, 100 * time.Millisecond, 2 << 20},   // 10 MiB/s: 2.5 MiB a quarter second
		{8 << 20, 10 * time.Millisecond, 64 << 20},   // 800 MiB/s: 200 MiB, capped
		{64 << 20, 500 * time.Millisecond, 32 << 20}, // 128 MiB/s: 32 MiB exactly
		{1 << 20, 0, 64 << 20},                       // too fast to time
	} {
		if got := nextChunk(tc.n, tc.took); got != tc.want {
			t.Errorf("nextChunk(%d, %v) = %d, want %d", tc.n, tc.took, got, tc.want)
		}
	}
	for _, tc := range []struct {
		off, c, total int64
		reply         bool
		want          int64
	}{
		{0, 1 << 20, 10 << 20, false, 1 << 20},
		{3<<20 + 5, 4 << 20, 10 << 20, false, 4 << 20}, // a resumed offset: the rest of its chunk
		{8 << 20, 4 << 20, 10 << 20, false, 10 << 20},  // the file's end
		{8 << 20, 4 << 20, 10<<20 + 5, true, 10 << 20}, // upload-reply: the last MiB apart
		{10 << 20, 4 << 20, 10<<20 + 5, true, 10<<20 + 5},
	} {
		if got := chunkEnd(tc.off, tc.c, tc.total, tc.reply); got != tc.want {
			t.Errorf("chunkEnd(%d, %d, %d, %v) = %d, want %d", tc.off, tc.c, tc.total, tc.reply, got, tc.want)
		}
	}
}
