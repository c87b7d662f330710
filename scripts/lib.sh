# lib.sh: shell functions the scripts share (sourced: `. scripts/lib.sh`).
# shellcheck shell=sh

# npm_install DIR NAME: `npm ci` in DIR when its node_modules is missing or
# older than the lockfile (NAME prefixes the error).
npm_install() {
    (
        cd "$1" || exit 1
        if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
            npm ci --no-audit --no-fund --loglevel=error >/dev/null || {
                echo "$2: npm ci failed in $1" >&2
                exit 1
            }
            touch node_modules
        fi
    )
}

# wait_run_server OUT PID NAME: waits (30 s at most) until scripts/run.sh,
# started as PID with its output in OUT, has printed the demo tenant's
# Authorization line; else prints OUT with the secrets hidden and exits 1.
wait_run_server() {
    _i=0
    until grep -q '^Authorization: User' "$1" 2>/dev/null; do
        if ! kill -0 "$2" 2>/dev/null || [ "$_i" -ge 300 ]; then
            echo "$3: the make run server did not start:" >&2
            sed 's/\(User\|Organization\) [A-Za-z0-9+\/=]*/\1 <secret>/g' "$1" >&2
            exit 1
        fi
        sleep 0.1
        _i=$((_i + 1))
    done
}
