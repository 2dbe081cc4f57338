#!/usr/bin/env bash
# Stop the test services that .ci/services.sh started: sshd and (only if that script started
# it) dockerd, each by the pid it recorded, never by name. A pid is only signalled after
# checking it still belongs to the process we started (pids get recycled).
# Leaves keys, logs and the image in place so a later start is fast.
set -euo pipefail

DIR="${KAMAL_DEV_SERVICES_DIR:-/tmp/kamal-dev-services}"
[ -d "$DIR" ] || exit 0
# One run at a time: parallel test jobs may call this together.
exec 9>"$DIR/lock"
flock 9

log() { printf 'services-stop: %s\n' "$*" >&2; }

# stop_pid NAME PID_FILE MARKER: stop the pid in PID_FILE if its command line contains MARKER.
stop_pid() {
    local name="$1" pid_file="$2" marker="$3" pid
    [ -f "$pid_file" ] || { log "$name: no pid file, nothing to stop"; return 0; }
    pid="$(cat "$pid_file")"
    if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
        log "$name: pid $pid is not running"
        rm -f "$pid_file"
        return 0
    fi
    if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"; then
        log "$name: pid $pid is no longer $name; leaving it alone"
        rm -f "$pid_file"
        return 0
    fi
    kill -TERM "$pid"
    local i
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name: pid $pid ignored SIGTERM for 20 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pid_file"
    log "$name: stopped pid $pid"
}

stop_pid sshd "$DIR/sshd/sshd.pid" "$DIR/sshd/sshd_config"
stop_pid dockerd "$DIR/dockerd.pid" dockerd
rm -f "$DIR/env"
