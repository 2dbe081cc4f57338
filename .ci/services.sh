#!/usr/bin/env bash
# Test services for CI and the end-to-end suite: a Docker engine, a tiny local image and ONE
# OpenSSH sshd listening on port 22 of the loopback addresses 127.0.0.10 .. 127.0.0.25
# (the simulated machines). Idempotent: run it again and it only starts what is not running.
#
# Run as root on Debian 12. Only the package registries are reachable, so nothing is pulled:
# the image is built from busybox-static with `docker import`.
#
# Writes $KAMAL_DEV_SERVICES_DIR/env (default /tmp/kamal-dev-services/env); `source` it to get
#   KAMAL_DEV_TEST_SERVICES=1
#   KAMAL_DEV_TEST_SSH_KEY      private key path (the public key is the same path + .pub)
#   KAMAL_DEV_TEST_SSH_HOSTS    comma-separated addresses sshd listens on (port 22)
#   KAMAL_DEV_TEST_SSH_USER     root
#   KAMAL_DEV_TEST_SSH_PORT     22
#   KAMAL_DEV_TEST_SSHD_LOG     sshd's log (LogLevel VERBOSE), for tests that grep for secrets
#   KAMAL_DEV_TEST_SSHD_PID_FILE
#   KAMAL_DEV_TEST_SSH_HOST_KEY_FINGERPRINT  SHA256:... of sshd's host key
#   KAMAL_DEV_TEST_IMAGE        local/busybox:latest
# Stop everything this script started with .ci/services-stop.sh (by recorded pid only).
set -euo pipefail

DIR="${KAMAL_DEV_SERVICES_DIR:-/tmp/kamal-dev-services}"
IMAGE="local/busybox:latest"
# Bump when the image contents change so an old image is rebuilt.
IMAGE_VERSION="2"
FIRST_HOST=10
LAST_HOST=25 # one sshd accepts at most 16 ListenAddress lines

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (installs packages and listens on port 22)"
mkdir -p "$DIR"
chmod 755 "$DIR"
# One run at a time: parallel test jobs may call this together.
exec 9>"$DIR/lock"
flock 9

# --- packages -----------------------------------------------------------------------------
install_packages() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
    [ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 || missing+=(busybox-static)
    command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "installing ${missing[*]}"
    # Keep package scripts from starting the system sshd (it would take port 22 on every
    # address) or dockerd: we start our own below.
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
    if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}
install_packages

# --- docker engine ------------------------------------------------------------------------
pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

start_dockerd() {
    if docker info >/dev/null 2>&1; then
        return 0
    fi
    local pid=""
    [ -f "$DIR/dockerd.pid" ] && pid="$(cat "$DIR/dockerd.pid")"
    if ! pid_alive "$pid"; then
        log "starting dockerd (log: $DIR/dockerd.log)"
        setsid dockerd >"$DIR/dockerd.log" 2>&1 </dev/null 9>&- &
        pid=$!
        echo "$pid" >"$DIR/dockerd.pid"
    fi
    local i
    for i in $(seq 1 120); do
        if docker info >/dev/null 2>&1; then
            return 0
        fi
        pid_alive "$pid" || die "dockerd exited; see $DIR/dockerd.log: $(tail -n 5 "$DIR/dockerd.log" 2>/dev/null)"
        sleep 0.5
    done
    die "dockerd did not answer within 60 s; see $DIR/dockerd.log"
}
start_dockerd

# --- the tiny image -----------------------------------------------------------------------
build_image() {
    local have
    have="$(docker image inspect -f '{{index .Config.Labels "kamal-dev.test-image"}}' "$IMAGE" 2>/dev/null || true)"
    [ "$have" = "$IMAGE_VERSION" ] && return 0
    log "building $IMAGE from busybox-static"
    local root
    root="$(mktemp -d)"
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev" "$root/var/run"
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    local applet applets
    applets="$(/bin/busybox --list)"
    for applet in sh ash sleep cat env echo ls id base64 true false mkdir rm rmdir cp mv ln \
        tail head grep egrep wc ps tr sed awk tar gzip gunzip printf test [ [[ kill date touch \
        chmod chown hostname whoami nc httpd wget stat cut sort uniq basename dirname pwd \
        readlink realpath find xargs tee sha256sum md5sum uname seq expr which timeout vi \
        more less du df free top nohup; do
        if grep -qxF -- "$applet" <<<"$applets"; then
            ln -sf busybox "$root/bin/$applet"
        fi
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    tar -C "$root" -c . | docker import \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'CMD ["/bin/sh"]' \
        -c "LABEL kamal-dev.test-image=$IMAGE_VERSION" \
        - "$IMAGE" >/dev/null
    rm -rf "$root"
}
build_image

# --- sshd ---------------------------------------------------------------------------------
SSHD_DIR="$DIR/sshd"
mkdir -p "$SSHD_DIR" /run/sshd
chmod 700 "$SSHD_DIR"
KEY="$DIR/id_ed25519"
HOST_KEY="$SSHD_DIR/ssh_host_ed25519_key"
SSHD_CONFIG="$SSHD_DIR/sshd_config"
SSHD_PID_FILE="$SSHD_DIR/sshd.pid"
SSHD_LOG="$DIR/sshd.log"

[ -f "$KEY" ] || ssh-keygen -q -t ed25519 -N '' -C kamal-dev-test -f "$KEY"
[ -f "$HOST_KEY" ] || ssh-keygen -q -t ed25519 -N '' -C kamal-dev-test-host -f "$HOST_KEY"
cp "$KEY.pub" "$SSHD_DIR/authorized_keys"
chmod 600 "$SSHD_DIR/authorized_keys"

hosts=()
{
    echo "# written by .ci/services.sh"
    for i in $(seq "$FIRST_HOST" "$LAST_HOST"); do
        echo "ListenAddress 127.0.0.$i:22"
    done
    cat <<EOF
HostKey $HOST_KEY
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PidFile $SSHD_PID_FILE
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 200
MaxSessions 64
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
} >"$SSHD_CONFIG.new"
for i in $(seq "$FIRST_HOST" "$LAST_HOST"); do hosts+=("127.0.0.$i"); done

sshd_running() {
    local pid
    [ -f "$SSHD_PID_FILE" ] || return 1
    pid="$(cat "$SSHD_PID_FILE")"
    pid_alive "$pid" || return 1
    # Make sure the pid is still our sshd, not a recycled pid.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$SSHD_CONFIG"
}

if sshd_running && cmp -s "$SSHD_CONFIG" "$SSHD_CONFIG.new"; then
    rm -f "$SSHD_CONFIG.new"
else
    if sshd_running; then
        log "sshd config changed: restarting sshd"
        kill "$(cat "$SSHD_PID_FILE")"
        for _ in $(seq 1 50); do sshd_running || break; sleep 0.1; done
    fi
    mv "$SSHD_CONFIG.new" "$SSHD_CONFIG"
    /usr/sbin/sshd -t -f "$SSHD_CONFIG" || die "sshd rejected $SSHD_CONFIG"
    rm -f "$SSHD_PID_FILE"
    log "starting sshd on 127.0.0.$FIRST_HOST..127.0.0.$LAST_HOST:22 (log: $SSHD_LOG)"
    # sshd daemonizes itself and writes PidFile; -E appends its log to a file.
    /usr/sbin/sshd -f "$SSHD_CONFIG" -E "$SSHD_LOG" 9>&-
    for _ in $(seq 1 50); do sshd_running && break; sleep 0.1; done
    sshd_running || die "sshd did not start; see $SSHD_LOG: $(tail -n 5 "$SSHD_LOG" 2>/dev/null)"
fi

# Check one round trip with the system client, so a broken setup fails here and not in a test.
ssh -q -i "$KEY" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o ConnectTimeout=5 "root@127.0.0.$FIRST_HOST" true \
    || die "ssh root@127.0.0.$FIRST_HOST with $KEY failed; see $SSHD_LOG"

FINGERPRINT="$(ssh-keygen -l -E sha256 -f "$HOST_KEY.pub" | awk '{print $2}')"
HOSTS_CSV="$(IFS=,; echo "${hosts[*]}")"
cat >"$DIR/env.new" <<EOF
export KAMAL_DEV_TEST_SERVICES=1
export KAMAL_DEV_TEST_SSH_KEY=$KEY
export KAMAL_DEV_TEST_SSH_HOSTS=$HOSTS_CSV
export KAMAL_DEV_TEST_SSH_USER=root
export KAMAL_DEV_TEST_SSH_PORT=22
export KAMAL_DEV_TEST_SSHD_LOG=$SSHD_LOG
export KAMAL_DEV_TEST_SSHD_PID_FILE=$SSHD_PID_FILE
export KAMAL_DEV_TEST_SSH_HOST_KEY_FINGERPRINT=$FINGERPRINT
export KAMAL_DEV_TEST_IMAGE=$IMAGE
EOF
chmod 644 "$DIR/env.new"
mv "$DIR/env.new" "$DIR/env"
log "ready: source $DIR/env"
