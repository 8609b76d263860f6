#!/usr/bin/env bash
# demo.sh: two downloads from a local, rate-limited bitsserver, driven by
# bitsadmin as a Windows script would. Everything stays on 127.0.0.1 and in
# a temporary folder that is removed at the end. Run it with `make demo`,
# which builds bin/ first.
set -euo pipefail
cd "$(dirname "$0")/.."

for b in bitsadmin bitsjob bitsserver; do
	[ -x "bin/$b" ] || { echo "demo: bin/$b is missing: run 'make demo' (or 'make build') first" >&2; exit 1; }
done

rate=16000000 # bytes per second: 64 MiB take about 4 s, long enough to watch
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bits-demo.XXXXXX")
server_pid=
cleanup() {
	set +e # clean up as much as can be, whatever fails
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	# The worker that bitsadmin started writes its pid into its lock file.
	local pid
	pid=$(cat "$tmp/home/worker.lock" 2>/dev/null || true)
	if [ -n "$pid" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = bitsjob ]; then
		kill "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bold= plain=
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*"; "$@"; }

mkdir -p "$tmp/www" "$tmp/dest"
src="$tmp/www/demo.bin"
step "A 64 MiB random file to serve: $src"
head -c $((64 << 20)) /dev/urandom >"$src"

step "Serving $tmp/www at $rate bytes/s"
bin/bitsserver -listen 127.0.0.1:0 -rate "$rate" -root "$tmp/www" >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
url=
for _ in $(seq 100); do # up to 10 s
	url=$(sed -n 's/^listening on //p' "$tmp/server.out")
	[ -n "$url" ] && break
	kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.err" >&2; exit 1; }
	sleep 0.1
done
[ -n "$url" ] || { echo "demo: bitsserver did not print its address" >&2; exit 1; }
echo "bitsserver is listening on $url"

export BITS_HOME="$tmp/home"
export PATH="$PWD/bin:$PATH"
echo "BITS_HOME=$BITS_HOME"

step "1. bitsadmin /transfer: create, resume, wait and complete in one command"
run bitsadmin /transfer demo "$url/demo.bin" "$tmp/dest/first.bin"

step "2. The same, one verb at a time"
job=$(bitsadmin /rawreturn /create demo2)
echo "\$ bitsadmin /rawreturn /create demo2"
echo "$job"
run bitsadmin /addfile "$job" "$url/demo.bin" "$tmp/dest/second.bin"
run bitsadmin /resume "$job"

state() { bitsadmin /rawreturn /getstate "$job"; }
# Let the worker pick the job up, so /list and /info show it moving.
s=
for _ in $(seq 100); do # up to 10 s
	s=$(state)
	case $s in TRANSFERRING | TRANSFERRED) break ;; ERROR) break ;; esac
	sleep 0.1
done
run bitsadmin /list
run bitsadmin /info "$job" /verbose

step "Waiting for TRANSFERRED"
for i in $(seq 1200); do # up to 2 min
	s=$(state)
	case $s in TRANSFERRED | ERROR) break ;; esac
	if [ $((i % 4)) -eq 0 ]; then
		echo "$s: $(bitsadmin /rawreturn /getbytestransferred "$job") / $(bitsadmin /rawreturn /getbytestotal "$job") bytes"
	fi
	sleep 0.25
done
echo "state: $s"
if [ "$s" != TRANSFERRED ]; then
	bitsadmin /geterror "$job" || true
	echo "demo: job $job ended in $s" >&2
	exit 1
fi
if [ -e "$tmp/dest/second.bin" ]; then
	echo "demo: second.bin appeared before /complete" >&2
	exit 1
fi
echo "second.bin does not exist yet: files appear under their names only at /complete"
run bitsadmin /complete "$job"

step "Checking both downloads against the source"
want=$(sha256sum <"$src" | cut -d' ' -f1)
ok=true
for f in first.bin second.bin; do
	got=$(sha256sum <"$tmp/dest/$f" | cut -d' ' -f1)
	if [ "$got" = "$want" ]; then
		echo "$f: OK ($got)"
	else
		echo "$f: MISMATCH ($got, want $want)" >&2
		ok=false
	fi
done
$ok
step "Demo finished"
