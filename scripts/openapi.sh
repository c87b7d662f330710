#!/bin/sh
# openapi.sh: the validators of the OpenAPI document (doc/openapi.json),
# npm packages pinned by t/openapi's lockfile: Redocly's CLI (its linter)
# and ajv (JSON Schema 2020-12, for the contract test t/98-contract.t).
#
#   scripts/openapi.sh install    npm ci in t/openapi when its node_modules
#                                 is missing or older than the lockfile
#   scripts/openapi.sh lint       redocly lint doc/openapi.json (t/openapi/
#                                 redocly.yaml); fails on any error or warning
#
# Node.js and npm come from scripts/deps.sh.
set -eu

die() { echo "openapi.sh: $*" >&2; exit 1; }
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

case "${1:-}" in
install)
    npm_install "$top/t/openapi" openapi.sh
    ;;
lint)
    cd "$top/t/openapi"
    [ -x node_modules/.bin/redocly ] || die "run 'scripts/openapi.sh install' first"
    # No telemetry, no update check: the linter talks to nobody.
    out=$(REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
          node_modules/.bin/redocly lint --config redocly.yaml --format=stylish \
          "$top/doc/openapi.json" 2>&1) || { echo "$out" >&2; die "redocly lint failed"; }
    # (Redocly's notice that it will need Node.js 22 some day is not about
    # the document: only its count of the document's warnings counts.)
    if echo "$out" | grep -Eq 'You have [0-9]+ warnings?'; then
        echo "$out" >&2
        die "redocly lint warned"
    fi
    echo "openapi.sh: doc/openapi.json: redocly lint clean"
    ;;
*) die "usage: openapi.sh install | lint" ;;
esac
