#!/usr/bin/env bash
# build-image.sh OUT MIRROR: build the base disk of the reboot test into the
# folder OUT (which must not exist yet): base.img (a raw ext4 root file
# system), vmlinuz and initrd.img (the kernel and initramfs to boot it with).
#
# The image is Debian bookworm with systemd as PID 1, users alice (uid
# 1000) and bob (uid 1001), logind's KillUserProcesses=yes, no network but
# loopback, and three system units that take what changes from run to run
# from a second disk, the payload (labelled bits-payload, mounted read-only
# on /payload):
#   bits-payload.service   copies /payload/bin/* to /usr/local/bin
#   bits-origin.service    runs bitsserver on 127.0.0.1:8080 over /srv/bits,
#                          at the rate that /payload/config sets
#   bits-small-origin.service  the same on 127.0.0.1:8081 over /srv/small,
#                          slower, for a job of many small files
#   bits-vm-test.service   runs /payload/guest-test.sh at every boot, its
#                          output on the serial console (ttyS0)
#
# reboot-test.sh keys its cache on the hash of this file: everything that
# defines the image is written here, so editing it makes a new image.
set -euo pipefail

out=${1:?usage: build-image.sh OUT MIRROR}
mirror=${2:?usage: build-image.sh OUT MIRROR}
[ ! -e "$out" ] || { echo "build-image: $out exists already" >&2; exit 1; }

suite=bookworm
packages=(
	systemd systemd-sysv libpam-systemd dbus dbus-user-session udev
	linux-image-amd64 kmod
	login passwd util-linux procps iproute2 sqlite3 cron
	# polkitd lets alice enable lingering for herself (logind asks polkit;
	# without it only root may), as on most systemd machines.
	polkitd
)
size=2G

work=$(mktemp -d /var/tmp/bits-vm-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root

# The initramfs only needs to find a virtio disk with ext4 on it: listing
# those modules (instead of initramfs-tools' "most") makes it small, quick
# to build, and quick to unpack under emulation.
initramfs_hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d" && echo MODULES=list >"$1/etc/initramfs-tools/conf.d/bits-vm.conf" && printf "%s\n" virtio_pci virtio_blk crc32c_generic ext4 >"$1/usr/share/initramfs-tools/modules.d/bits-vm"'
include=$(
	IFS=,
	echo "${packages[*]}"
)
echo "build-image: mmdebstrap $suite ($include) from $mirror"
mmdebstrap --quiet --format=directory --variant=minbase \
	--include="$include" --essential-hook="$initramfs_hook" \
	"$suite" "$root" "$mirror"

# A file in the image, written from standard input.
put() {
	mkdir -p "$(dirname "$root/$1")"
	cat >"$root/$1"
}

put etc/fstab <<'EOF'
/dev/vda / ext4 rw,errors=remount-ro 0 1
LABEL=bits-payload /payload ext4 ro,nofail,x-systemd.device-timeout=60s 0 0
EOF
echo bitsvm | put etc/hostname
put etc/hosts <<'EOF'
127.0.0.1 localhost bitsvm
::1 localhost ip6-localhost ip6-loopback
EOF
# A fixed machine id: no first-boot logic, and journals that read the same
# from boot to boot.
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' | put etc/machine-id
echo >>"$root/etc/machine-id"

# alice sets up a service of her own; bob relies on the machine-wide one.
chroot "$root" useradd --create-home --uid 1000 --user-group --shell /bin/bash alice
chroot "$root" useradd --create-home --uid 1001 --user-group --shell /bin/bash bob

put etc/systemd/logind.conf.d/bits-vm.conf <<'EOF'
[Login]
KillUserProcesses=yes
EOF
# Keep the journal of every boot, so a later boot can show an earlier one.
put etc/systemd/journald.conf.d/bits-vm.conf <<'EOF'
[Journal]
Storage=persistent
EOF
mkdir -p "$root/var/log/journal" "$root/payload" "$root/srv/bits" "$root/srv/small"

put etc/systemd/system/bits-payload.service <<'EOF'
[Unit]
Description=Install the bits programs of the test payload
RequiresMountsFor=/payload
ConditionPathIsDirectory=/payload/bin
# Before anything runs bitsjob: a lingering user's manager, the
# machine-wide service's boot start (which bitsjob service install --system
# adds later).
Before=systemd-logind.service user@.service bits-workers.service bits-origin.service bits-small-origin.service bits-vm-test.service

[Service]
Type=oneshot
RemainAfterExit=yes
# A program that changed is written beside the old one, synced, then
# renamed over it: a hard power-off never leaves half a program behind.
ExecStart=/bin/sh -c 'for f in /payload/bin/*; do t=/usr/local/bin/$${f##*/}; cmp -s "$$f" "$$t" && continue; install -m 0755 "$$f" "$$t.new" && sync "$$t.new" && mv "$$t.new" "$$t"; done; sync /usr/local/bin'

[Install]
WantedBy=multi-user.target
EOF

put etc/systemd/system/bits-origin.service <<'EOF'
[Unit]
Description=bits download origin on 127.0.0.1:8080
Requires=bits-payload.service
After=bits-payload.service
# Serving before the workers start at boot, as a server elsewhere would be.
Before=user@.service bits-workers.service

[Service]
EnvironmentFile=/payload/config
ExecStart=/usr/local/bin/bitsserver -root /srv/bits -listen 127.0.0.1:8080 -rate ${BITS_VM_RATE}
Restart=on-failure

[Install]
WantedBy=multi-user.target
EOF

put etc/systemd/system/bits-small-origin.service <<'EOF'
[Unit]
Description=bits download origin of small files on 127.0.0.1:8081
Requires=bits-payload.service
After=bits-payload.service
Before=user@.service bits-workers.service

[Service]
EnvironmentFile=/payload/config
ExecStart=/usr/local/bin/bitsserver -root /srv/small -listen 127.0.0.1:8081 -rate ${BITS_VM_SMALL_RATE}
Restart=on-failure

[Install]
WantedBy=multi-user.target
EOF

put etc/systemd/system/bits-vm-test.service <<'EOF'
[Unit]
Description=bits reboot test, guest side
Requires=bits-payload.service
ConditionPathExists=/payload/guest-test.sh
# After systemd-user-sessions: until then /run/nologin refuses alice a login.
After=bits-payload.service bits-origin.service bits-small-origin.service systemd-logind.service systemd-user-sessions.service dbus.service polkit.service

[Service]
Type=exec
ExecStart=/bin/bash /payload/guest-test.sh
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF

chroot "$root" systemctl enable bits-payload.service bits-origin.service bits-small-origin.service bits-vm-test.service
# Nothing that would write to the serial console or use the processor in
# the background: no gettys, no periodic jobs.
chroot "$root" systemctl mask serial-getty@ttyS0.service getty@tty1.service \
	apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer

kernel=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n 1)
initrd=$(ls "$root"/boot/initrd.img-* | sort -V | tail -n 1)

mkdir -p "$work/out"
cp "$kernel" "$work/out/vmlinuz"
cp "$initrd" "$work/out/initrd.img"
truncate -s "$size" "$work/out/base.img"
mkfs.ext4 -q -F -L bitsroot -d "$root" "$work/out/base.img"
mv "$work/out" "$out"
echo "build-image: $out ready"
