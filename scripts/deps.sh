#!/bin/sh
# deps.sh: install the Debian 12 packages mod_ceinstances needs to build, run,
# test and bench, but only those missing. `apt-get update` runs at most once,
# and only when something has to be installed. Safe to run again and again;
# prints nothing when everything is there.
#
# Usage: scripts/deps.sh        (root, or a user with passwordless sudo)
set -eu

PACKAGES="
build-essential make pkg-config
apache2 apache2-dev
libapr1-dev libaprutil1-dev libaprutil1-dbd-sqlite3 libaprutil1-dbd-pgsql
libjansson-dev libssl-dev libsqlite3-dev check libcurl4-openssl-dev clang libclang-rt-14-dev llvm-14 clang-format
libapache2-mod-perl2 libdbd-sqlite3-perl libdbd-pg-perl libjson-perl libwww-perl
postgresql
sqlite3 curl wrk gnuplot-nox
util-linux passwd
lintian
"
# (make deb: dpkg-buildpackage and debhelper, with dh_apache2, come with
# build-essential's dpkg-dev and apache2-dev; lintian checks the package.)

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        "install ok installed") ;;
        *) missing="$missing $p" ;;
    esac
done

# Node.js and npm (the suite's OAuth 2 server, t/oauth): Debian's, unless
# the machine already has them from elsewhere.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "deps.sh: missing packages:$missing; run as root (or with sudo) to install them" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing </dev/null
