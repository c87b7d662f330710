#!/bin/sh
# deb.sh: build the Debian package libapache2-mod-ceinstances (`make deb`).
#
# dpkg-buildpackage -b runs in a copy of the tree (build/deb-src/), so the
# checkout's build/ is left alone (debian/rules cleans and builds there);
# the copy is the files git knows plus new ones it does not ignore. The
# .deb, .buildinfo and .changes go to build/deb/; lintian (when installed)
# then checks the .deb and .changes, and any error or warning fails the
# build (the tags overridden in debian/ say why).
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
OUT=$TOP/build/deb
SRC=$TOP/build/deb-src
VERSION=$(dpkg-parsechangelog -S Version)
PKG=libapache2-mod-ceinstances

# One version: the package's (debian/changelog) is the program's.
if [ -e src/ce_version.h ]; then
    ce_version=$(sed -n 's/^#[[:space:]]*define[[:space:]]\{1,\}CE_VERSION[[:space:]]\{1,\}"\([^"]*\)".*/\1/p' \
        src/ce_version.h)
    [ "$ce_version" = "$VERSION" ] || {
        echo "deb.sh: debian/changelog says $VERSION, src/ce_version.h says CE_VERSION \"$ce_version\"" >&2
        exit 1
    }
fi

rm -rf "$SRC" "$OUT"
mkdir -p "$SRC/$PKG-$VERSION" "$OUT"
if git rev-parse --git-dir >/dev/null 2>&1; then
    # (a file deleted but not yet committed is skipped, not an error)
    git ls-files -z --cached --others --exclude-standard \
        | tar -C "$TOP" --null -T - --ignore-failed-read -cf - 2>/dev/null \
        | tar -C "$SRC/$PKG-$VERSION" -xf -
else
    tar -C "$TOP" --exclude=./build --exclude=./var --exclude=./t/logs --exclude=./t/var \
        --exclude=./t/oauth/node_modules -cf - . | tar -C "$SRC/$PKG-$VERSION" -xf -
fi

( cd "$SRC/$PKG-$VERSION" && dpkg-buildpackage -b -us -uc ) >"$SRC/build.log" 2>&1 || {
    tail -n 40 "$SRC/build.log" >&2
    echo "deb.sh: dpkg-buildpackage failed (log: $SRC/build.log)" >&2
    exit 1
}
cp "$SRC"/*.deb "$SRC"/*.buildinfo "$SRC"/*.changes "$OUT"/
echo "deb.sh: built in build/deb/: $(cd "$OUT" && echo ./*.deb | sed 's|\./||g')"

if command -v lintian >/dev/null 2>&1; then
    # ceadmin's man page is doc/ceadmin.8 (installed by `make install` from
    # doc/*.8); a tree without it yet gets lintian's no-manual-page, the one
    # warning allowed then.
    suppress=""
    [ -e doc/ceadmin.8 ] || suppress="--suppress-tags no-manual-page"
    # shellcheck disable=SC2086
    lintian --fail-on error,warning $suppress --info "$OUT"/*.changes
    echo "deb.sh: lintian: no error or warning${suppress:+ (no-manual-page suppressed: no doc/ceadmin.8 yet)}"
else
    echo "deb.sh: lintian is not installed; the package was not checked" >&2
fi
