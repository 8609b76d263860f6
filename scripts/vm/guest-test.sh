#!/bin/bash
# guest-test.sh: the guest side of reboot-test.sh. bits-vm-test.service runs
# it as root from the payload disk at every boot of the test machine; it
# writes lines that start with "BITSVM " to the serial console, which the
# host reads. Which boot this is comes from a counter on the guest's disk:
#   boot 1  makes the content; alice installs the worker's user service
#           (bitsjob service install --linger), root installs the
#           machine-wide one (--system), and alice and bob each queue and
#           resume a download; it reboots once bytes have moved for both
#   boot 2  only watches: a progress line a second, read from the job stores
#           without any bits command and without a session for anyone (the
#           host powers the machine off hard while it watches, once a few
#           of alice's small files are complete in this boot)
#   boot 3  watches both transfers resume, logs alice in and out (logind's
#           terminate-session and terminate-user) and bob (terminate-user,
#           under the machine-wide service), says when the host may suspend
#           the machine, waits for TRANSFERRED, completes the jobs and
#           checks each file's sha256; alice's worker must have fetched
#           again the small files that boot 2 had not synced
# A line "BITSVM FAIL ..." ends the test; reboot-test.sh judges the rest.
set -uo pipefail

# shellcheck source=/dev/null
. /payload/config # BITS_VM_SIZE_MIB, BITS_VM_RATE, BITS_VM_LOGOUT

state=/var/lib/bits-vm # this test's own notes, on the guest's disk
url=http://127.0.0.1:8080/big.bin
small_url=http://127.0.0.1:8081 # alice's job "small": many small files, slowly

# The store and the download of each user.
store() { echo "/home/$1/.local/state/bits"; }
dest() { echo "/home/$1/big.bin"; }

say() { printf 'BITSVM %s\n' "$*"; }

# journal prints the journal since $1 (a journalctl --since time), without
# this script's own lines, which the console has already; $2 keeps only
# that many of the last lines.
journal() {
	journalctl --no-pager -o short-monotonic --since "$1" | grep -v BITSVM | tail -n "${2:-+1}" |
		sed 's/^/BITSVM journal: /'
}

# fail ends the test: the journal's last lines first, as the host stops
# reading at the FAIL line.
fail() {
	journal -5min 30
	say "FAIL $*"
	exit 1
}

now() { date '+%Y-%m-%d %H:%M:%S'; }

# note NAME VALUE keeps a value across boots, on disk before it returns.
note() {
	mkdir -p "$state"
	printf '%s\n' "$2" >"$state/$1.tmp"
	sync "$state/$1.tmp"
	mv "$state/$1.tmp" "$state/$1"
	sync "$state"
}
recall() { cat "$state/$1" 2>/dev/null; }

# as USER CMD... runs a command with the user's ids but no login: no PAM,
# so no logind session and no user manager started on their behalf.
as() {
	local who=$1
	shift
	setpriv --reuid="$who" --regid="$who" --init-groups \
		env -i HOME="/home/$who" USER="$who" LOGNAME="$who" PATH=/usr/local/bin:/usr/bin:/bin "$@"
}

# in_session USER CMD runs a shell command as the user in a real login
# session: su goes through PAM, where pam_systemd registers the session with
# logind (and starts the user's manager if it does not run).
in_session() { su - "$1" -c "$2" </dev/null 2>&1; }

# progress [USER] reads the user's job "big" (alice's by default) into
# STATE, BYTES and TOTAL. It reads as the user: SQLite may create the -wal
# and -shm files beside the database, and ones owned by root would lock the
# worker out.
STATE='' BYTES='' TOTAL=''
progress() {
	local who=${1:-alice} row
	row=$(as "$who" sqlite3 -readonly -batch -noheader -separator ' ' -cmd '.timeout 5000' "$(store "$who")/jobs.db" \
		"SELECT j.state, f.bytes_done, f.bytes_total FROM jobs j JOIN files f ON f.job_id = j.id WHERE j.display_name = 'big';" 2>&1)
	if [[ ! $row =~ ^[0-9]+\ [0-9]+\ -?[0-9]+$ ]]; then
		STATE='' BYTES='' TOTAL=''
		say "progress of $who boot=$boot unreadable: $(head -n 1 <<<"$row")"
		return 1
	fi
	read -r STATE BYTES TOTAL <<<"$row"
}

# small_progress reads alice's job "small" into SMALL_STATE, SMALL_DONE
# (files complete) and SMALL_TOTAL, from the totals the store keeps.
SMALL_STATE='' SMALL_DONE='' SMALL_TOTAL=''
small_progress() {
	local row
	row=$(as alice sqlite3 -readonly -batch -noheader -separator ' ' -cmd '.timeout 5000' "$(store alice)/jobs.db" \
		"SELECT state, files_done, files_total FROM jobs WHERE display_name = 'small';" 2>&1)
	if [[ ! $row =~ ^[0-9]+\ [0-9]+\ [0-9]+$ ]]; then
		SMALL_STATE='' SMALL_DONE='' SMALL_TOTAL=''
		say "small files of alice unreadable: $(head -n 1 <<<"$row")"
		return 1
	fi
	read -r SMALL_STATE SMALL_DONE SMALL_TOTAL <<<"$row"
}

# bob_report prints bob's progress (a line the host does not count as
# alice's) and, in boot 2, keeps it on disk for boot 3.
bob_report() {
	progress bob || return 1
	say "bob state=$STATE bytes=$BYTES total=$TOTAL"
	[ "$boot" != 2 ] || note bob-last "$BYTES"
}

# report prints one progress line, with both of the guest's clocks. In
# boot 2 it also keeps the bytes on disk, for boot 3 to compare with.
report() {
	progress || return 1
	say "progress boot=$boot up=$(cut -d' ' -f1 /proc/uptime) wall=$(date +%s) state=$STATE bytes=$BYTES total=$TOTAL"
	[ "$boot" != 2 ] || note last-bytes "$BYTES"
}

# tick sleeps until a second has passed since the last tick: reading the
# store takes a good part of a second under emulation.
last_tick=0
tick() {
	local left=$((last_tick + 1000000 - ${EPOCHREALTIME/./}))
	if [ "$left" -gt 999999 ]; then
		left=999999
	fi
	if [ "$left" -gt 0 ]; then
		sleep "0.$(printf '%06d' "$left")"
	fi
	last_tick=${EPOCHREALTIME/./}
}

# worker [USER] prints the running worker's pid and cgroup: the pid is the
# first line of worker.lock; WORKER_PID is empty when no worker runs.
WORKER_PID=''
worker() {
	local who=${1:-alice} pid
	pid=$(head -n 1 "$(store "$who")/worker.lock" 2>/dev/null)
	WORKER_PID=''
	if [[ $pid =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = bitsjob ]; then
		WORKER_PID=$pid
		say "worker of $who pid=$pid cgroup=$(tr '\n' ' ' <"/proc/$pid/cgroup")"
	else
		say "worker of $who none (worker.lock: ${pid:-missing})"
	fi
}

# bob_worker checks that bob's worker runs as the machine-wide service's
# system unit, outside every session and user manager.
bob_worker() {
	worker bob
	if [ -z "$WORKER_PID" ] || ! grep -q 'system\.slice/.*bits-worker@1001\.service' "/proc/$WORKER_PID/cgroup"; then
		journalctl --no-pager -o short-monotonic -u bits-workers.service -u 'bits-worker@*' -u 'bits-activate@*' |
			tail -n 40 | sed 's/^/BITSVM journal: /'
		fail "bob's worker does not run as bits-worker@1001.service"
	fi
}

# manager prints the state of alice's user manager into MANAGER.
MANAGER=''
manager() {
	MANAGER="$(systemctl show -P ActiveState user@1000.service)/$(systemctl show -P SubState user@1000.service) pid=$(systemctl show -P MainPID user@1000.service)"
	say "manager user@1000.service $MANAGER linger=$(loginctl show-user alice -P Linger 2>/dev/null || echo n/a)"
}

sessions() {
	say "sessions: $(loginctl list-sessions --no-legend | tr -s ' ' | paste -sd ';' -)"
}

# watch_growth PAST SECONDS [USER] prints a progress line a second until
# more than PAST bytes of the user's job (alice's by default) are done, for
# at most SECONDS (of the guest's clock); it returns 1 when the time runs
# out.
watch_growth() {
	local past=$1 deadline=$(($(date +%s) + $2)) who=${3:-alice}
	while [ "$(date +%s)" -lt "$deadline" ]; do
		if [ "$who" = alice ]; then
			report
		else
			bob_report
		fi && [ "$BYTES" -gt "$past" ] && return 0
		[ "$STATE" = 4 ] && fail "the job of $who is in ERROR"
		tick
	done
	return 1
}

# settle waits until alice's user manager is neither starting nor stopping.
settle() {
	local deadline=$(($(date +%s) + 60)) s
	while [ "$(date +%s)" -lt "$deadline" ]; do
		s=$(systemctl show -P ActiveState user@1000.service)
		case $s in activating | deactivating | reloading) ;; *) return 0 ;; esac
		sleep 0.5
	done
	fail "user@1000.service still $s after 60 s"
}

# open_session USER VARIANT logs the user in (su, through PAM) and runs a
# bits command in the session, leaving the session open; it sets SESSION to
# its logind id.
SESSION='' SU_PID=''
open_session() {
	local who=$1 ready=/tmp/bits-vm-session.$2 deadline
	rm -f "$ready"
	su - "$who" -c "bitsadmin /info big; echo \"\$XDG_RUNTIME_DIR\" >$ready; exec sleep infinity" </dev/null 2>&1 &
	SU_PID=$!
	deadline=$(($(date +%s) + 60))
	until [ -s "$ready" ]; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "$who's session ($2) did not run its bits command within 60 s"
		kill -0 "$SU_PID" 2>/dev/null || fail "su for $who's session ($2) exited"
		sleep 0.5
	done
	SESSION=$(loginctl list-sessions --no-legend | awk -v who="$who" '$3 == who { print $1; exit }')
	[ -n "$SESSION" ] || fail "no logind session for $who after su"
	say "session $SESSION opened for $who (XDG_RUNTIME_DIR=$(cat "$ready")), bitsadmin /info ran in it"
	sessions
}

# gone USER waits until the user has no session left and su has ended.
gone() {
	local deadline=$(($(date +%s) + 60))
	while loginctl list-sessions --no-legend | awk -v who="$1" '$3 == who' | grep -q . || kill -0 "$SU_PID" 2>/dev/null; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "$1's session did not end within 60 s"
		sleep 0.5
	done
	wait "$SU_PID" 2>/dev/null
}

# logout VARIANT: log alice in, run a bits command, end the session with
# "loginctl terminate-session" (VARIANT session) or "loginctl
# terminate-user alice" (VARIANT user) in the middle of the transfer, and
# report what happened to her user manager, to the worker and to the
# transfer.
logout() {
	local variant=$1 since mgr_before worker_before bytes_at grew=no
	since=$(now)
	open_session alice "$variant"
	manager
	mgr_before=$MANAGER
	worker
	worker_before=$WORKER_PID
	if [ "$variant" = session ]; then
		say "loginctl terminate-session $SESSION"
		loginctl terminate-session "$SESSION" || fail "loginctl terminate-session failed"
	else
		say "loginctl terminate-user alice"
		loginctl terminate-user alice || fail "loginctl terminate-user failed"
	fi
	gone alice
	settle
	sessions
	manager
	worker
	# A worker that was stopped records its last checkpoint as it goes:
	# growth counts from what the store says once the logout has settled.
	report || fail "cannot read the job store"
	bytes_at=$BYTES
	# Watch for 30 s: time enough for a user service to restart the worker
	# and for its first checkpoint.
	if watch_growth "$bytes_at" 30; then
		grew=yes
	fi
	manager
	worker
	say "logout variant=$variant manager_before=[$mgr_before] manager_after=[$MANAGER] worker_before=${worker_before:-none} worker_after=${WORKER_PID:-none} bytes_after_logout=$bytes_at bytes_30s_later=$BYTES grew=$grew"
	journal "$since"
	case $variant/$grew in
	session/no) fail "the transfer stopped after alice's session ended (terminate-session)" ;;
	user/yes) ;;
	user/no)
		# terminate-user stops a lingering user's manager too, and systemd
		# starts it again only at the next login or boot (docs/service.md).
		# alice logs in, and types no bits command.
		say "alice's user manager stayed down: alice logs in again (no bits command)"
		in_session alice 'true' >/dev/null
		watch_growth "$BYTES" 60 || fail "the transfer did not resume when alice logged in again"
		worker
		grep -q 'user@1000\.service' "/proc/$WORKER_PID/cgroup" 2>/dev/null ||
			fail "after the login the worker does not run in alice's user manager"
		say "logout variant=user recovered: the transfer resumed at alice's next login"
		;;
	esac
}

# logout_system: bob, whose worker the machine-wide service runs, logs in,
# runs a bits command, and is ended with "loginctl terminate-user bob" in
# the middle of the transfer: his worker, a system service, carries on.
logout_system() {
	local since worker_before bytes_at
	since=$(now)
	open_session bob system
	bob_worker
	worker_before=$WORKER_PID
	say "loginctl terminate-user bob"
	loginctl terminate-user bob || fail "loginctl terminate-user bob failed"
	gone bob
	sessions
	bob_report || fail "cannot read bob's job store"
	bytes_at=$BYTES
	watch_growth "$bytes_at" 30 bob || fail "bob's transfer stopped after loginctl terminate-user bob"
	bob_worker
	say "logout variant=system worker_before=$worker_before worker_after=$WORKER_PID bytes_after_logout=$bytes_at bytes_later=$BYTES grew=yes"
	[ "$WORKER_PID" = "$worker_before" ] || fail "bob's worker was replaced by the logout"
	journal "$since"
}

# crash kills alice's worker with SIGKILL: systemd starts it again within a
# few seconds (Restart=on-failure), in her user manager, and the transfer
# goes on from its checkpoint.
crash() {
	local old deadline
	worker
	old=$WORKER_PID
	[ -n "$old" ] || fail "no worker of alice to kill"
	say "kill -9 $old (alice's worker)"
	kill -9 "$old"
	deadline=$(($(date +%s) + 10))
	until worker >/dev/null && [ -n "$WORKER_PID" ] && [ "$WORKER_PID" != "$old" ]; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "systemd did not start alice's worker again within 10 s of kill -9"
		sleep 0.2
	done
	worker
	grep -q 'user@1000\.service' "/proc/$WORKER_PID/cgroup" || fail "the restarted worker does not run in alice's user manager"
	report || fail "cannot read the job store"
	watch_growth "$BYTES" 30 || fail "the transfer did not go on after the worker was killed"
	say "crash: systemd restarted alice's worker ($old -> $WORKER_PID) and the transfer went on"
}

# uninstall removes alice's service and the machine-wide one: every unit
# file install wrote is gone, lingering (which alice's install turned on) is
# off again, and status says that no service is set up.
uninstall() {
	local out
	out=$(in_session alice 'bitsjob service uninstall') || {
		printf '%s\n' "$out"
		fail "bitsjob service uninstall failed"
	}
	printf '%s\n' "$out"
	for f in /home/alice/.config/systemd/user/bits-worker@.service /home/alice/.config/systemd/user/bits-worker@.socket "$(store alice)/service.json"; do
		[ ! -e "$f" ] || fail "uninstall left $f"
	done
	[ "$(loginctl show-user alice -P Linger 2>/dev/null)" != yes ] || fail "uninstall left lingering on"
	bitsjob service uninstall --system 2>&1 || fail "bitsjob service uninstall --system failed"
	for f in bits-worker@.service bits-activate.socket bits-activate@.service bits-workers.service; do
		[ ! -e "/etc/systemd/system/$f" ] || fail "uninstall --system left /etc/systemd/system/$f"
	done
	systemctl is-active --quiet bits-worker@1001.service && fail "bob's worker still runs after uninstall --system"
	out=$(as alice bitsjob service status) || fail "bitsjob service status failed"
	printf '%s\n' "$out"
	grep -q '^Supervisor: *none' <<<"$out" || fail "status after uninstall does not say none"
	say "uninstalled: no unit file, no lingering, no service left"
}

# complete USER checks the user's job is TRANSFERRED, completes it as the
# user (without a session) and compares the file with the origin's.
complete() {
	local who=$1 sum
	say "as $who, without a session: bitsadmin /complete big"
	as "$who" bitsadmin /complete big 2>&1 || fail "bitsadmin /complete big as $who failed"
	[ -f "$(dest "$who")" ] || fail "$(dest "$who") is missing after /complete"
	sum=$(sha256sum <"$(dest "$who")" | cut -d' ' -f1)
	say "sha256 of $(dest "$who"): $sum (origin: $(recall sha256))"
	[ "$sum" = "$(recall sha256)" ] || fail "sha256 mismatch for $who"
}

boot1() {
	local size=$((BITS_VM_SIZE_MIB * 1048576)) sum deadline out
	say "boot 1: $(uname -r), $(systemctl --version | head -n 1)"

	mkdir -p /srv/bits
	head -c "$size" /dev/urandom >/srv/bits/big.bin.part || fail "cannot write the content"
	mv /srv/bits/big.bin.part /srv/bits/big.bin
	sum=$(sha256sum </srv/bits/big.bin | cut -d' ' -f1)
	note sha256 "$sum"
	say "content /srv/bits/big.bin bytes=$size sha256=$sum, served at $BITS_VM_RATE bytes/s"
	for i in $(seq -f %04g 0 $((BITS_VM_SMALL_FILES - 1))); do
		head -c "$BITS_VM_SMALL_SIZE" /dev/urandom >"/srv/small/s$i.bin" || fail "cannot write the small files"
		echo "$small_url/s$i.bin /home/alice/small/s$i.bin"
	done >/srv/small.set
	chmod 0644 /srv/small.set
	note small-sums "$(cd /srv/small && sha256sum s*.bin)"
	say "content /srv/small: $BITS_VM_SMALL_FILES files of $BITS_VM_SMALL_SIZE bytes, each served at $BITS_VM_SMALL_RATE bytes/s"
	deadline=$(($(date +%s) + 60))
	until ss -Hltn 'sport = :8080' | grep -q .; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "the origin (bits-origin.service) does not listen on 127.0.0.1:8080"
		sleep 0.5
	done

	say "as alice: bitsjob service install --linger"
	out=$(in_session alice 'bitsjob service install --linger') || {
		printf '%s\n' "$out"
		fail "bitsjob service install --linger failed"
	}
	printf '%s\n' "$out"
	out=$(in_session alice 'bitsjob service install --linger') || fail "a second bitsjob service install failed"
	grep -q 'Installed already: nothing changed.' <<<"$out" || {
		printf '%s\n' "$out"
		fail "a second bitsjob service install changed something"
	}
	say "as alice: bitsjob service status"
	in_session alice 'bitsjob service status'
	manager

	# The worker that install started is stopped, so that the command below
	# finds none: it must start one through systemd (the socket), not as a
	# process of its own login session.
	in_session alice "systemctl --user stop $(systemd-escape --template bits-worker@.service --path "$(store alice)")" ||
		fail "systemctl --user stop failed"
	say "as alice: bitsadmin /create big, /addfile, /resume"
	in_session alice "bitsadmin /create big && bitsadmin /addfile big $url $(dest alice) && bitsadmin /resume big" ||
		fail "bitsadmin could not queue alice's job"
	say "as alice: bitsadmin /create small, /addfileset of $BITS_VM_SMALL_FILES files, /resume"
	in_session alice "mkdir -p ~/small && bitsadmin /create small && bitsadmin /addfileset small /srv/small.set && bitsadmin /resume small" ||
		fail "bitsadmin could not queue alice's small files"
	sessions
	watch_growth 0 120 || fail "no bytes moved within 120 s of bitsadmin /resume"
	worker
	grep -q 'user@1000\.service/.*bits-worker@' "/proc/$WORKER_PID/cgroup" ||
		fail "the worker that bitsadmin started does not run under systemd in alice's user manager"
	manager

	say "as root: bitsjob service install --system"
	bitsjob service install --system 2>&1 || fail "bitsjob service install --system failed"
	say "as bob: bitsadmin /create big, /addfile, /resume (bob has no service of his own)"
	in_session bob "bitsadmin /create big && bitsadmin /addfile big $url $(dest bob) && bitsadmin /resume big && bitsjob service status" ||
		fail "bitsadmin could not queue bob's job"
	watch_growth 0 120 bob || fail "no bytes of bob's job moved within 120 s of bitsadmin /resume"
	bob_worker

	report || fail "cannot read alice's job store"
	note before-reboot "$BYTES"
	small_progress && say "small files before the reboot: $SMALL_DONE of $SMALL_TOTAL, state $SMALL_STATE"
	say "before-reboot bytes=$BYTES"
	sync
	systemctl reboot
}

boot2() {
	local i=0 base='' ready=''
	say "boot 2: nobody types a bits command; alice has no session"
	sessions
	manager
	# The host powers the machine off once it has seen progress grow and
	# a few small files complete in this boot: recorded complete, not yet
	# synced, since their job is not over.
	while :; do
		report
		if [ $((i % 5)) = 0 ]; then
			worker
			bob_report
		fi
		if small_progress; then
			[ "$SMALL_STATE" = 6 ] && fail "the small files were all done before the power-off: lower BITS_VM_SMALL_RATE"
			[ -n "$base" ] || base=$SMALL_DONE
			say "small boot=2 done=$SMALL_DONE total=$SMALL_TOTAL state=$SMALL_STATE"
			if [ -z "$ready" ] && [ "$SMALL_DONE" -ge $((base + 3)) ]; then
				ready=1
				# The store's records of them are made durable, as SQLite's
				# checkpoint or the kernel's writeback may do at any time
				# (a commit is not synced at once); their bytes may or may
				# not reach the disk before the power goes.
				sync "$(store alice)/jobs.db-wal" "$(store alice)/jobs.db" || fail "cannot sync alice's store"
				say "small-ready: $((SMALL_DONE - base)) files complete in boot 2 ($SMALL_DONE of $SMALL_TOTAL), their records on disk"
			fi
		fi
		i=$((i + 1))
		tick
	done
}

# small_refetched waits for alice's worker to say how many files a boot
# before this one had left unsynced, and prints it.
small_refetched() {
	local deadline=$(($(date +%s) + 240)) n
	while [ "$(date +%s)" -lt "$deadline" ]; do
		n=$(journalctl -b --no-pager -o cat 2>/dev/null | grep -o 'fetching them again" files=[0-9]*' | head -n 1 | cut -d= -f2)
		if [ -n "$n" ]; then
			say "small refetched=$n: files complete but unsynced when the power went, fetched again"
			return 0
		fi
		sleep 1
	done
	fail "alice's worker did not fetch again the small files that boot 2 left unsynced"
}

# complete_small completes alice's job of small files and checks every one.
complete_small() {
	local deadline=$(($(date +%s) + 600)) bad
	until small_progress && [ "$SMALL_STATE" = 6 ]; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "the small files are not TRANSFERRED in time"
		[ "$SMALL_STATE" = 4 ] && fail "the small files' job in ERROR"
		tick
	done
	say "as alice, without a session: bitsadmin /complete small"
	as alice bitsadmin /complete small 2>&1 || fail "bitsadmin /complete small failed"
	bad=$(cd /home/alice/small && recall small-sums | sha256sum -c --quiet 2>&1)
	[ -z "$bad" ] || fail "small files differ from the origin's: $(head -n 3 <<<"$bad")"
	say "small files: all $SMALL_TOTAL intact"
}

boot3() {
	local past mode deadline
	past=$(recall last-bytes)
	say "boot 3 after a hard power-off: the last progress on disk was ${past:-none}"
	sessions
	manager
	watch_growth "${past:-0}" 240 || fail "the transfer did not resume within 240 s of boot 3"
	small_refetched
	worker
	case $WORKER_PID in '') fail "no worker runs" ;; esac
	grep -q 'user@1000\.service' "/proc/$WORKER_PID/cgroup" || fail "the worker does not run in alice's user manager"
	# bob's worker comes from the machine-wide service at boot: his bytes
	# must grow past what they are now.
	progress bob || fail "cannot read bob's job store"
	watch_growth "$BYTES" 240 bob || fail "bob's transfer did not resume within 240 s of boot 3"
	bob_worker

	mode=${BITS_VM_LOGOUT:-both}
	case $mode in
	both)
		logout session
		logout user
		logout_system
		;;
	session | user) logout "$mode" ;;
	system) logout_system ;;
	none) ;;
	*) fail "BITS_VM_LOGOUT=$mode: want both, session, user, system or none" ;;
	esac

	crash

	# The host suspends the machine (QEMU's stop, then cont) while the
	# transfer runs: at least 20 s of it must be left.
	report || fail "cannot read the job store"
	if [ $((TOTAL - BYTES)) -lt $((BITS_VM_RATE * 20)) ]; then
		fail "too little left of the transfer for the suspend stage ($((TOTAL - BYTES)) bytes): lower BITS_VM_RATE or raise BITS_VM_SIZE_MIB"
	fi
	say "suspend-ready"

	deadline=$(($(date +%s) + TOTAL / BITS_VM_RATE + 600))
	until [ "$STATE" = 6 ]; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "the job is not TRANSFERRED in time"
		tick
		report
		[ "$STATE" = 4 ] && fail "job in ERROR"
	done
	complete alice
	until bob_report && [ "$STATE" = 6 ]; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "bob's job is not TRANSFERRED in time"
		[ "$STATE" = 4 ] && fail "bob's job in ERROR"
		tick
	done
	complete bob
	complete_small
	uninstall
	say "result before=$(recall before-reboot) end=$(stat -c %s "$(dest alice)") sha256=ok bob=ok small=ok"
	systemctl poweroff
}

boot=$(($(recall boot || echo 0) + 1))
note boot "$boot"
case $boot in
1) boot1 ;;
2) boot2 ;;
3) boot3 ;;
*) say "boot $boot: the test is over" ;;
esac
