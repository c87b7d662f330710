#!/bin/sh
# test-ceadmin-root.sh: ceadmin run as root must not leave a root-owned
# SQLite database that httpd's user cannot write (issue 11, item 11).
# Part of `make test`; Apache::Test runs unprivileged, so this is checked
# here. Without root it says so and passes (nothing to check).
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "test-ceadmin-root: not root, nothing to check"
    exit 0
fi
user=${CE_TEST_USER:-nobody}
group=$(id -gn "$user")
work=$(mktemp -d)
chmod 0755 "$work" # the owner ceadmin becomes must reach the database
trap 'rm -rf "$work"' EXIT
build/ceadmin keygen "$work/key" >/dev/null
mkdir "$work/db"
chown "$user:$group" "$work/db"
build/ceadmin --key "$work/key" --db "sqlite3:$work/db/ce.db" signup --org Root \
    --email root@example.com >/dev/null
owner=$(stat -c %U "$work/db/ce.db")
if [ "$owner" != "$user" ]; then
    echo "test-ceadmin-root: FAIL: root's signup left a database owned by $owner, not $user" >&2
    exit 1
fi
# Changing it as root keeps every file the directory owner's.
build/ceadmin --key "$work/key" --db "sqlite3:$work/db/ce.db" user-add --org-id 1 \
    --email two@example.com >/dev/null
bad=$(find "$work/db" ! -user "$user" | head -n 1)
if [ -n "$bad" ]; then
    echo "test-ceadmin-root: FAIL: $bad is not $user's after a change as root" >&2
    exit 1
fi
echo "test-ceadmin-root: ok (database files stay $user's)"
