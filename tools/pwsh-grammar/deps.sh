#!/usr/bin/env bash
# deps.sh: make sure node and npm are on PATH (apt-get as root on a
# Debian-like system, else say what to install), then install the pinned
# grammar packages of package-lock.json with npm ci. The grammar ships as
# WebAssembly, so install scripts (native builds) are not run.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
for tool in node npm; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "pwsh-grammar: missing ${missing[*]}: install Node.js 18 or newer with npm (as root: apt-get install nodejs npm)" >&2
		exit 1
	fi
	echo "pwsh-grammar: installing nodejs and npm for ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends nodejs npm
fi

npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
