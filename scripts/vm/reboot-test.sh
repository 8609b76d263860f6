#!/usr/bin/env bash
# reboot-test.sh: the real-reboot end-to-end test. A Debian bookworm machine
# under QEMU (systemd as PID 1, no network but loopback) downloads a file
# from a slow bitsserver on its own 127.0.0.1 as two users: alice, whose
# worker runs as a systemd user service (`bitsjob service install
# --linger`), and bob, whose worker the machine-wide service runs
# (`bitsjob service install --system`). The downloads must carry on by
# themselves across
#   - a reboot (systemctl reboot in the guest),
#   - a hard power-off (the host kills QEMU) and a cold start,
#   - logouts (logind with KillUserProcesses=yes): alice's session ended
#     with loginctl terminate-session, then all of alice with
#     terminate-user (which stops her user manager: the transfer must
#     resume at her next login, with no bits command), then all of bob with
#     terminate-user (his transfer must not even pause),
#   - a crash: alice's worker killed with SIGKILL (systemd must start it
#     again within seconds),
#   - a suspend (QEMU's monitor: stop, 60 s, cont): growth within 5 s of
#     waking, and never ERROR or TRANSIENT_ERROR for the time it slept,
# until the jobs are TRANSFERRED; each user then completes theirs and the
# files' sha256 must match. Alice also has a job of many small files from a
# slower origin: the host cuts the power once some of them are complete in
# boot 2 (recorded complete before they are synced, see docs/engine.md), and
# the worker of boot 3 must fetch those again and end with every file
# intact. Nobody types a bits command after the first boot except those
# last /complete.
#
# The host reads the guest's serial console (lines starting "BITSVM ") and
# drives QEMU; guest-test.sh is the guest's side, build-image.sh builds the
# base image, which is cached in $BITS_VM_CACHE (/var/tmp/bits-vm-cache)
# under the hash of build-image.sh, so only the first run builds it.
#
# On success it prints one line,
#   resumed after reboot: <bytes before the reboot> -> <bytes at end>, sha256 ok
# (alice's) and exits 0; on a failure it says what failed, prints the tail
# of the serial log and exits 1. Progress goes to standard error.
#
# Settings (environment):
#   BITS_VM_CACHE     where the base image is kept (/var/tmp/bits-vm-cache)
#   BITS_VM_KEEP=1    keep the run folder (disks, serial log) afterwards
#   BITS_VM_SIZE_MIB  size of the download (48)
#   BITS_VM_RATE      the origin's rate in bytes per second (393216)
#   BITS_VM_LOGOUT    which logouts to try: both (default: all three),
#                     session, user, system, none
#   BITS_VM_SUSPEND   seconds the machine stays suspended (60)
#   BITS_VM_SMALL_FILES, BITS_VM_SMALL_SIZE, BITS_VM_SMALL_RATE
#                     the job of small files: how many (150), their size in
#                     bytes (4096), the rate of each response (512)
#
# Needs root (to build the image; apt-get installs missing tools), Go, and
# the Debian mirror of this machine's apt sources.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

size_mib=${BITS_VM_SIZE_MIB:-48}
rate=${BITS_VM_RATE:-393216}
logout_mode=${BITS_VM_LOGOUT:-both}
suspend_s=${BITS_VM_SUSPEND:-60}
small_files=${BITS_VM_SMALL_FILES:-150}
small_size=${BITS_VM_SMALL_SIZE:-4096}
small_rate=${BITS_VM_SMALL_RATE:-512}
cache=${BITS_VM_CACHE:-/var/tmp/bits-vm-cache}
keep=${BITS_VM_KEEP:-0}

t0=$SECONDS
say() { printf 'reboot-test [%4ds]: %s\n' "$((SECONDS - t0))" "$*" >&2; }

run='' qpid='' serial=''
failed=1

cleanup() {
	set +e
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill -9 "$qpid"
		wait "$qpid" 2>/dev/null
	fi
	if [ -n "$run" ] && [ -d "$run" ]; then
		if [ "$keep" = 1 ]; then
			say "kept $run (serial log: $serial)"
		elif [ "$failed" = 1 ]; then
			rm -f "$run"/*.img "$run"/*.qcow2
			rm -rf "$run/payload"
			say "the logs stay in $run (serial log: $serial); BITS_VM_KEEP=1 keeps the disks too"
		else
			rm -rf "$run"
		fi
	fi
}
trap cleanup EXIT

die() {
	say "FAIL: $*"
	if [ -n "$serial" ] && [ -s "$serial" ]; then
		echo "---- last lines of the serial log ($serial) ----" >&2
		tail -n 80 "$serial" | tr -d '\r' >&2
		echo "----" >&2
	fi
	exit 1
}

# ---- 1. tools -------------------------------------------------------------

declare -A package=(
	[qemu-system-x86_64]=qemu-system-x86
	[qemu-img]=qemu-utils
	[mmdebstrap]=mmdebstrap
	[mkfs.ext4]=e2fsprogs
	[socat]=socat
	[flock]=util-linux
	[sha256sum]=coreutils
)
missing=()
for tool in "${!package[@]}"; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("${package[$tool]}")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		die "missing tools: install the packages ${missing[*]} (as root: apt-get install ${missing[*]})"
	fi
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	timeout 600 apt-get update -qq || die "apt-get update failed"
	timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi
command -v go >/dev/null 2>&1 ||
	die "go is missing: install Go $(sed -n 's/^go //p' "$repo/go.mod") or newer and put it on PATH"
[ "$(id -u)" -eq 0 ] || die "run as root: the base image is built with mmdebstrap and chroot"

# The mirror: the first URIs: line of the machine's apt sources.
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$mirror" ]; then
	mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$mirror" ] || die "no Debian mirror in /etc/apt/sources.list.d/debian.sources (URIs:) or /etc/apt/sources.list"

case $logout_mode in both | session | user | system | none) ;; *) die "BITS_VM_LOGOUT=$logout_mode: want both, session, user, system or none" ;; esac
for v in size_mib rate suspend_s small_files small_size small_rate; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v=${!v} is not a positive number"
done

run=$(mktemp -d /var/tmp/bits-vm-run.XXXXXX)
serial=$run/serial.log
: >"$serial"
say "run folder $run, serial log $serial"

# ---- 2. the base image, cached ------------------------------------------------

key=$(sha256sum <"$here/build-image.sh" | cut -c1-16)
image=$cache/$key
mkdir -p "$cache"
exec 9>"$cache/.lock"
timeout 1800 flock 9 || die "another run holds $cache/.lock for 30 minutes"
if [ -f "$image/base.img" ]; then
	say "base image $image (cached)"
else
	say "building the base image into $image (Debian bookworm from $mirror; takes minutes)"
	rm -rf "$image" "$image.partial"
	timeout 1800 bash "$here/build-image.sh" "$image.partial" "$mirror" >"$run/build-image.log" 2>&1 ||
		{
			tail -n 40 "$run/build-image.log" >&2
			die "building the base image failed (log: $run/build-image.log)"
		}
	mv "$image.partial" "$image"
	# Older images (of other versions of build-image.sh) are of no more use.
	find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
	say "base image built"
fi
exec 9>&-

# ---- 3. the payload: this tree's programs and the guest script ----------------

mkdir -p "$run/payload/bin"
say "building bitsadmin, bitsjob and bitsserver (CGO_ENABLED=0)"
(cd "$repo" && CGO_ENABLED=0 timeout 900 go build -o "$run/payload/bin/" ./cmd/...) >"$run/go-build.log" 2>&1 ||
	{
		cat "$run/go-build.log" >&2
		die "go build failed"
	}
cp "$here/guest-test.sh" "$run/payload/"
cat >"$run/payload/config" <<EOF
BITS_VM_SIZE_MIB=$size_mib
BITS_VM_RATE=$rate
BITS_VM_LOGOUT=$logout_mode
BITS_VM_SMALL_FILES=$small_files
BITS_VM_SMALL_SIZE=$small_size
BITS_VM_SMALL_RATE=$small_rate
EOF
payload_mib=$(($(du -sm "$run/payload" | cut -f1) + 32))
truncate -s "${payload_mib}M" "$run/payload.img"
mkfs.ext4 -q -F -L bits-payload -d "$run/payload" "$run/payload.img" || die "mkfs.ext4 of the payload failed"
qemu-img create -q -f qcow2 -b "$image/base.img" -F raw "$run/disk.qcow2" || die "qemu-img create failed"

# ---- QEMU ------------------------------------------------------------------

monitor_sock=$run/monitor.sock
accel=tcg # software emulation; KVM where this machine has it
[ -w /dev/kvm ] && accel=kvm
start_qemu() {
	rm -f "$monitor_sock"
	qemu-system-x86_64 -nodefaults -machine "accel=$accel" -m 1024 -smp 2 \
		-display none -vga none -nic none \
		-kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
		-append "root=/dev/vda rw console=ttyS0 quiet" \
		-drive "file=$run/disk.qcow2,format=qcow2,if=virtio" \
		-drive "file=$run/payload.img,format=raw,if=virtio,readonly=on" \
		-chardev "file,id=serial0,path=$serial,append=on" -serial chardev:serial0 \
		-monitor "unix:$monitor_sock,server,nowait" \
		>>"$run/qemu.log" 2>&1 &
	qpid=$!
	say "QEMU started (pid $qpid, $accel)"
}

# monitor sends one command to QEMU's human monitor and prints the reply.
monitor() {
	printf '%s\n' "$1" | timeout 10 socat -t 2 - "UNIX-CONNECT:$monitor_sock" | tr -d '\r'
}

vm_status() { monitor 'info status' | grep -o 'VM status: [a-z-]*' | head -n 1; }

hard_power_off() {
	kill -9 "$qpid"
	wait "$qpid" 2>/dev/null || true
	qpid=''
}

# ---- reading the serial log ------------------------------------------------------

lines() { wc -l <"$serial"; }

# find_line FROM AWK-CONDITION prints "N:line" for the first line after line
# FROM that meets the condition, or a guest's FAIL line, whichever is first.
# In the condition, bytes and state are those of a progress line (else -1).
find_line() {
	tr -d '\r' <"$serial" | awk -v from="$1" '
		NR <= from { next }
		{
			bytes = -1; state = -1; boot = -1
			if (match($0, /BITSVM progress boot=[0-9]+/)) boot = substr($0, RSTART + 21, RLENGTH - 21) + 0
			if (match($0, / state=[0-9]+/)) state = substr($0, RSTART + 7, RLENGTH - 7) + 0
			if (match($0, / bytes=[0-9]+/)) bytes = substr($0, RSTART + 7, RLENGTH - 7) + 0
		}
		/BITSVM FAIL/ || ('"$2"') { print NR ":" $0; exit }'
}

# wait_line WHAT SECONDS FROM AWK-CONDITION waits for such a line and sets
# LINE (its text) and LINE_NO; a FAIL from the guest, QEMU's end or the
# deadline ends the test.
LINE='' LINE_NO=0
wait_line() {
	local what=$1 deadline=$((SECONDS + $2)) from=$3 cond=$4 hit
	while :; do
		hit=$(find_line "$from" "$cond")
		if [ -n "$hit" ]; then
			LINE_NO=${hit%%:*}
			LINE=${hit#*:}
			case $LINE in *"BITSVM FAIL"*) die "the guest failed: ${LINE#*BITSVM FAIL }" ;; esac
			return 0
		fi
		if [ -z "$qpid" ] || ! kill -0 "$qpid" 2>/dev/null; then
			die "QEMU ended while waiting for $what"
		fi
		[ "$SECONDS" -lt "$deadline" ] || die "no $what within $2 s"
		sleep 0.2
	done
}

# wait_marker WHAT SECONDS FROM TEXT waits for a line with "BITSVM TEXT".
wait_marker() {
	local text=${4//\\/\\\\}
	wait_line "$1" "$2" "$3" "index(\$0, \"BITSVM ${text//\"/\\\"}\") > 0"
}

# wait_growth WHAT SECONDS FROM BOOT PAST waits for a progress line of that
# boot with more than PAST bytes.
wait_growth() {
	wait_line "$1" "$2" "$3" "boot == $4 && bytes > $5"
}

field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# last_progress FROM TO BOOT prints the bytes of the last progress line of
# that boot between the two lines (TO 0: to the end).
last_progress() {
	tr -d '\r' <"$serial" | awk -v from="$1" -v to="$2" -v boot="$3" '
		NR <= from || (to > 0 && NR > to) { next }
		index($0, "BITSVM progress boot=" boot " ") && match($0, / bytes=[0-9]+/) { b = substr($0, RSTART + 7, RLENGTH - 7) }
		END { print b }'
}

# ---- 4. the stages ----------------------------------------------------------------

total=$((size_mib * 1048576))
say "stage a: boot 1 makes $size_mib MiB, served at $rate bytes/s (about $((total / rate)) s of transfer); alice installs the worker service and queues the job"
start_qemu
wait_marker "boot 1" 300 0 "boot 1"
boot1_line=$LINE_NO
say "boot 1 is up: ${LINE#*BITSVM }"
wait_marker "the service install" 300 "$boot1_line" "as alice: bitsadmin /create"
wait_marker "bytes before the reboot" 300 "$LINE_NO" "before-reboot bytes="
before=$(field bytes "$LINE")
[ "$before" -gt 0 ] || die "no bytes before the reboot"
say "before the reboot: $before bytes; the guest reboots"

say "stage b: boot 2, nobody types a bits command"
wait_marker "boot 2" 300 "$LINE_NO" "boot 2:"
boot2_line=$LINE_NO
wait_growth "progress past $before bytes in boot 2" 300 "$boot2_line" 2 "$before"
say "boot 2: progress grew to $(field bytes "$LINE") bytes"
wait_line "the worker in alice's user manager" 60 "$boot2_line" \
	'index($0, "BITSVM worker of alice pid=") && index($0, "user@1000.service")'
say "boot 2: ${LINE#*BITSVM }"
wait_marker "small files complete in boot 2" 300 "$boot2_line" "small-ready"
say "boot 2: ${LINE#*BITSVM }"
hard_power_off
at_power_off=$(last_progress "$boot2_line" 0 2)
say "hard power-off (QEMU killed) at $at_power_off bytes"

say "stage c: boot 3 after a cold start on the same disk"
mark=$(lines)
start_qemu
wait_marker "boot 3" 300 "$mark" "boot 3"
boot3_line=$LINE_NO
wait_growth "progress past $at_power_off bytes in boot 3" 300 "$boot3_line" 3 "$at_power_off"
say "boot 3: progress grew to $(field bytes "$LINE") bytes"
wait_marker "the small files fetched again" 300 "$boot3_line" "small refetched="
say "boot 3: ${LINE#*BITSVM }"

after_logout=$boot3_line
if [ "$logout_mode" != none ]; then
	say "stage d: alice logs in and out ($logout_mode)"
	variants=$logout_mode
	[ "$logout_mode" = both ] && variants="session user system"
	for v in $variants; do
		wait_marker "the outcome of logout $v" 400 "$after_logout" "logout variant=$v "
		after_logout=$LINE_NO
		say "logout $v: ${LINE#*BITSVM logout }"
	done
fi

say "stage d2: alice's worker is killed with SIGKILL"
wait_marker "the restart of the killed worker" 120 "$after_logout" "crash: "
after_logout=$LINE_NO
say "${LINE#*BITSVM crash: }"

say "stage e: suspend (QEMU stop, ${suspend_s} s, cont)"
wait_marker "suspend-ready" 300 "$after_logout" "suspend-ready"
ready_line=$LINE_NO
# One progress line after it, so that the bytes before the suspend are known.
wait_line "a progress line" 30 "$ready_line" "boot == 3 && bytes >= 0"
[ "$(field state "$LINE")" != 6 ] || die "the transfer ended before the suspend: lower BITS_VM_RATE"
monitor stop >/dev/null
[ "$(vm_status)" = "VM status: paused" ] || die "QEMU did not pause (info status: $(vm_status))"
stop_line=$(lines)
stop_host=$(date +%s)
asleep_bytes=$(last_progress "$ready_line" "$stop_line" 3)
asleep_wall=$(tr -d '\r' <"$serial" | awk -v to="$stop_line" 'NR <= to && /BITSVM progress boot=3 / && match($0, / wall=[0-9]+/) { w = substr($0, RSTART + 6, RLENGTH - 6) } END { print w }')
say "suspended at $asleep_bytes bytes"
sleep "$suspend_s" # the suspend itself: time passes with the machine stopped
monitor cont >/dev/null
cont_ns=$(date +%s%N)
[ "$(vm_status)" = "VM status: running" ] || die "QEMU did not resume (info status: $(vm_status))"
# (SECONDS counts whole seconds: wait up to 6 and measure the 5 exactly.)
wait_growth "progress past $asleep_bytes bytes after waking" 6 "$stop_line" 3 "$asleep_bytes"
woke_ms=$((($(date +%s%N) - cont_ns) / 1000000))
[ "$woke_ms" -le 5000 ] || die "progress grew only ${woke_ms} ms after waking, not within 5 s"
woke_wall=$(field wall "$LINE")
say "awake: progress grew to $(field bytes "$LINE") bytes ${woke_ms} ms after cont; the guest's wall clock moved $((woke_wall - asleep_wall)) s across a $(($(date +%s) - stop_host)) s suspend"

say "stage f: waiting for TRANSFERRED, then alice completes the job"
wait_marker "the result" $((total / rate + 600)) "$stop_line" "result "
result=$LINE
bad=$(tr -d '\r' <"$serial" | awk -v from="$stop_line" 'NR > from && /BITSVM progress boot=3 / && / state=(4|5) / { print; exit }')
[ -z "$bad" ] || die "the job was in ERROR or TRANSIENT_ERROR after the suspend: $bad"
[ "$(field sha256 "$result")" = ok ] || die "sha256 check: $result"
end_bytes=$(field end "$result")
[ "$end_bytes" = "$total" ] || die "the file has $end_bytes bytes, not $total"
[ "$(field small "$result")" = ok ] || die "the small files: $result"

# The guest powers itself off.
deadline=$((SECONDS + 120))
while kill -0 "$qpid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done
if kill -0 "$qpid" 2>/dev/null; then
	say "the guest did not power off within 120 s; killing QEMU"
	hard_power_off
else
	wait "$qpid" 2>/dev/null || true
	qpid=''
fi
say "done in $((SECONDS - t0)) s"
failed=0
echo "resumed after reboot: $before -> $end_bytes, sha256 ok"
