#!/usr/bin/env bash
# s3server.sh: build the SeaweedFS server (`weed`) that the S3 tests run
# (internal/testenv/s3.go), once, and print the path of the binary.
#
# The binary is cached outside the work tree, in
# ${XDG_CACHE_HOME:-$HOME/.cache}/bits/weed-<version>, because the build
# takes about 8 minutes on two cores and gives a 233 MB file that has no
# place in the repository. A cached binary that runs is reused.
#
# `go install .../weed@<version>` is refused (SeaweedFS's go.mod has a
# replace directive), so the module is downloaded through the Go module
# proxy and built as the main module in a scratch copy. The binary is
# built under a temporary name and renamed into place, so an interrupted
# build leaves nothing that a later run would mistake for a good binary.
set -euo pipefail

# The pinned version: change it here and in nothing else (s3.go finds the
# binary by this file name, see weedVersion there).
version=v0.0.0-20261109003541-7506e5f91cd6
module=github.com/seaweedfs/seaweedfs

export PATH="$PATH:/usr/local/go/bin"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/bits"
bin="$cache/weed-$version"

# A build killed outright (SIGKILL, power loss) leaves its scratch folder
# (about 400 MB: the source and a binary); one a day old is no running
# build's.
if [[ -d "$cache" ]]; then
	find "$cache" -maxdepth 1 -name '.weed-build.*' -mmin +1440 -exec chmod -R u+w {} + -exec rm -rf {} + 2>/dev/null || true
fi

if [[ -x "$bin" ]] && "$bin" version >/dev/null 2>&1; then
	echo "$bin"
	exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.weed-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# A signal ends the script through exit, so the EXIT trap above runs.
trap 'exit 130' INT TERM HUP

echo "s3server.sh: building SeaweedFS $version into $bin (about 8 minutes, once)" >&2
# Outside any module, so the download does not touch a go.mod.
dir=$(cd "$work" && GO111MODULE=on GOFLAGS=-mod=mod go mod download -json "$module@$version" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
if [[ -z "$dir" || ! -d "$dir" ]]; then
	echo "s3server.sh: go mod download gave no directory for $module@$version" >&2
	exit 1
fi
# The module cache is read-only; the build needs a writable copy.
cp -R "$dir" "$work/src"
chmod -R u+w "$work/src"
(cd "$work/src" && GOFLAGS=-buildvcs=false go build -o "$work/weed" ./weed)
"$work/weed" version >/dev/null
mv -f "$work/weed" "$bin"
echo "$bin"
