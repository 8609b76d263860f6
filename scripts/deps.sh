#!/usr/bin/env bash
# deps.sh TOOL...: make sure each tool is on PATH; a tool given as a path
# (starting with /) is a file that must exist, as headers and modules are
# not commands. A missing one is installed with apt-get when we are root on
# a Debian-like system; otherwise the script says what to install and
# fails. It never downloads anything else, so nothing is installed that apt
# does not vouch for.
set -euo pipefail

# Debian package for each tool we know how to install.
declare -A package=(
	[curl]=curl
	[grep]=grep
	[useradd]=passwd
	[userdel]=passwd
	[sha256sum]=coreutils
	[head]=coreutils
	[smbd]=samba
	[smbpasswd]=samba-common-bin
	[tinyproxy]=tinyproxy
	[winbindd]=winbind
	[ntlm_auth]=winbind
	[unshare]=util-linux
	[setpriv]=util-linux
	[getent]=libc-bin
	[/usr/lib/*/libnss_systemd.so.2]=libnss-systemd
	[/usr/lib/*/libnss_myhostname.so.2]=libnss-myhostname
	[hostname]=hostname
	[script]=bsdutils
	[zsh]=zsh
	[fish]=fish
	[ip]=iproute2
	[tc]=iproute2
	[dbus-daemon]=dbus-daemon
	[aria2c]=aria2
	[/usr/bin/time]=time
	[crontab]=cron
	[systemd-analyze]=systemd
	[systemd-escape]=systemd
	[systemd-socket-activate]=systemd
	[busctl]=systemd
	[gdbus]=libglib2.0-bin
	[gsettings]=libglib2.0-bin
	[dbus-run-session]=dbus-daemon
	[/usr/share/glib-2.0/schemas/org.gnome.system.proxy.gschema.xml]=gsettings-desktop-schemas
	[/usr/lib/*/gio/modules/libdconfsettings.so]=dconf-gsettings-backend
	[gcc]=gcc
	[pkg-config]=pkg-config
	[/usr/include/glib-2.0/gio/gio.h]=libglib2.0-dev
	[/usr/lib/python3/dist-packages/gi/__init__.py]=python3-gi
	[squid]=squid
	[/usr/lib/squid/basic_ncsa_auth]=squid
	[/usr/lib/squid/digest_file_auth]=squid
	[/usr/lib/squid/negotiate_kerberos_auth]=squid
	[krb5kdc]=krb5-kdc
	[kdb5_util]=krb5-kdc
	[kadmin.local]=krb5-admin-server
	[kinit]=krb5-user
	[klist]=krb5-user
	[apache2]=apache2
	[/usr/lib/apache2/modules/mod_auth_gssapi.so]=libapache2-mod-auth-gssapi
)

# useradd lives in sbin, which a non-login shell may not have on PATH.
export PATH="$PATH:/usr/sbin:/sbin"

# have TOOL: the command is on PATH, or the file (a /path, which may hold
# a * for the architecture's folder) exists.
have() {
	case "$1" in
	/*) compgen -G "$1" >/dev/null ;;
	*) command -v "$1" >/dev/null 2>&1 ;;
	esac
}

missing=()
for tool in "$@"; do
	have "$tool" || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0

pkgs=()
for tool in "${missing[@]}"; do
	if [ "$tool" = go ]; then
		# Debian's golang-go is far older than go.mod asks for.
		echo "deps: go is missing: install Go $(sed -n 's/^go //p' go.mod 2>/dev/null || echo 1.26) or newer (https://go.dev/doc/install) and put it on PATH" >&2
		exit 1
	fi
	if [ -z "${package[$tool]:-}" ]; then
		echo "deps: $tool is missing and this script does not know its package" >&2
		exit 1
	fi
	pkgs+=("${package[$tool]}")
done

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing ${missing[*]}: install the packages ${pkgs[*]} (as root: apt-get install ${pkgs[*]})" >&2
	exit 1
fi
echo "deps: installing ${pkgs[*]} for ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages such as squid, apache2 and krb5-kdc start their system services
# when installed; the tests start their own, and nothing should be left
# running. invoke-rc.d (and deb-systemd-invoke) ask policy-rc.d first: when
# the machine has none, one that refuses every start (101) is put in place
# for the install and removed after it. A machine's own policy-rc.d is
# left as it is.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	trap 'rm -f "$policy"' EXIT
	printf '#!/bin/sh\n# deps.sh: no service starts while the test tools are installed.\nexit 101\n' >"$policy"
	chmod 755 "$policy"
fi
# Another apt or an unattended upgrade may hold dpkg's lock: wait for it (up
# to 10 minutes) instead of failing at once.
lock=(-o DPkg::Lock::Timeout=600)
apt-get "${lock[@]}" update -qq
apt-get "${lock[@]}" install -y -qq --no-install-recommends "${pkgs[@]}"
for tool in "${missing[@]}"; do
	have "$tool" || { echo "deps: $tool is still missing after installing its package" >&2; exit 1; }
done
