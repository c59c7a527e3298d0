#!/usr/bin/env bash
# test-docker.sh -- build the l2d image from docker/Dockerfile with podman, run
# it, and check it from the outside: /healthz, an exact /l2_loss answer, the
# image's HEALTHCHECK (l2d --healthcheck), a non-root server process, a
# Prometheus (Debian's, in a container) scraping it with docker/prometheus.yml,
# and a clean stop on SIGTERM (exit status 0 after the drain). Reports the
# image size.
#
# Everything podman stores (images, containers, its database, the base root
# filesystem) lives in one temporary folder that a trap removes. No registry is
# needed: the debian:bookworm and debian:bookworm-slim base images are made
# here with debootstrap from the machine's Debian mirror and imported locally
# (podman build --pull=never). Packages it needs (podman, runc, debootstrap,
# curl) are installed when missing. Runs as root.
#
# The container uses the host's network (no bridge network, no port mapping):
# the server binds 0.0.0.0 as the image says, on a free port given in L2D_PORT.
#
# Usage: tests/docker/test-docker.sh        (run from anywhere; as root on a fresh
#                                     Debian 12 machine it installs what it needs)
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG="l2d-test-$$"
IMAGE="localhost/l2d:$TAG"
NAME="$TAG"
DRAIN_TIMEOUT=1 # seconds the server drains after SIGTERM
STOP_TIMEOUT=20 # seconds podman stop waits before SIGKILL
START=$SECONDS
W=""
PROM_BUILD_PID=""

say() { echo "test-docker: $*"; }
fail() {
    echo "test-docker: FAIL: $*" >&2
    exit 1
}

# --- packages ---------------------------------------------------------------

need_packages() {
    local missing=() p
    # debootstrap, the private overlay storage and mounts need root.
    [ "$(id -u)" -eq 0 ] || fail "run as root (e.g. sudo make test-docker)"
    for p in podman runc debootstrap curl; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    # With podman's recommended packages, as the setup this was proven on.
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        "${missing[@]}" >/dev/null
}

# --- private podman storage -------------------------------------------------

cleanup() {
    local rc=$? m
    set +e
    if [ -n "$PROM_BUILD_PID" ] && kill -0 "$PROM_BUILD_PID" 2>/dev/null; then
        kill "$PROM_BUILD_PID" 2>/dev/null
        wait "$PROM_BUILD_PID" 2>/dev/null
    fi
    if [ -n "$W" ] && [ -d "$W" ]; then
        # Only ever the private storage: never the machine's own images.
        if [ "${CONTAINERS_STORAGE_CONF:-}" = "$W/storage.conf" ]; then
            podman rm -af -t 0 >/dev/null 2>&1
            podman rmi -af >/dev/null 2>&1
        fi
        # The overlay driver keeps mounts under its graph root: undo them,
        # deepest first, before removing the folder.
        while read -r m; do
            umount -l "$m" 2>/dev/null
        done < <(awk -v w="$W" 'index($2, w) == 1 {print $2}' /proc/self/mounts | sort -r)
        rm -rf "$W"
    fi
    if [ "$rc" -ne 0 ]; then
        echo "test-docker: failed after $((SECONDS - START)) s" >&2
    fi
    exit "$rc"
}

setup_storage() {
    W=$(mktemp -d "${TMPDIR:-/tmp}/l2d-docker.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mkdir -p "$W/tmp"
    # runc: crun refuses hybrid cgroups on some hosts. Explicit low ulimits: a
    # root that cannot raise its limits (nested containers) fails every start
    # otherwise. Host networking only.
    cat >"$W/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "host"
[engine]
runtime = "runc"
events_logger = "file"
events_logfile_path = "$W/events.log"
tmp_dir = "$W/tmp"
EOF
    printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' \
        "$W" "$W" >"$W/storage.conf"
    export CONTAINERS_CONF="$W/containers.conf"
    export CONTAINERS_STORAGE_CONF="$W/storage.conf"
}

debian_mirror() {
    local m=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
        m=$(awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit}' /etc/apt/sources.list)
    fi
    echo "${m:-http://deb.debian.org/debian}"
}

# Makes debian:bookworm (the build stage's base) and debian:bookworm-slim (the
# runtime's) from Debian's packages: no registry is reachable here. The slim
# one drops documentation, manuals and translations and tells dpkg to leave
# them out of later installs, as Debian's official slim images do.
make_base_images() {
    local mirror r="$W/rootfs"
    mirror=$(debian_mirror)
    say "debootstrap bookworm from $mirror"
    if ! debootstrap --variant=minbase bookworm "$r" "$mirror" >"$W/debootstrap.log" 2>&1; then
        tail -n 20 "$W/debootstrap.log" >&2
        fail "debootstrap failed"
    fi
    rm -rf "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*
    import_rootfs localhost/debian:bookworm

    cat >"$r/etc/dpkg/dpkg.cfg.d/slim" <<'EOF2'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF2
    find "$r/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
    find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$r"/usr/share/man/* "$r"/usr/share/groff/* "$r"/usr/share/info/* \
        "$r"/usr/share/lintian/* "$r"/usr/share/linda/* "$r"/usr/share/locale/* \
        "$r"/var/log/*.log "$r"/var/log/apt/*
    import_rootfs localhost/debian:bookworm-slim
    rm -rf "$r"
}

import_rootfs() { # NAME
    tar -C "$W/rootfs" -c . | podman import - "$1" >"$W/import.log" 2>&1 ||
        fail "podman import $1 failed: $(cat "$W/import.log")"
}

# Builds a Prometheus image from Debian's package (no registry here), in the
# background while the l2d image builds; PROM_BUILD_PID is waited for later.
start_prometheus_build() {
    mkdir -p "$W/prom-context"
    cat >"$W/prom-context/Containerfile" <<'EOF'
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/*
EOF
    podman build --pull=never --network host --format docker -t "localhost/l2d-prometheus:$TAG" \
        -f "$W/prom-context/Containerfile" "$W/prom-context" >"$W/prom-build.log" 2>&1 &
    PROM_BUILD_PID=$!
}

# --- checks -----------------------------------------------------------------

# Prints a TCP port no socket of this machine uses, in any state or address
# (/proc/net/tcp*), taken below the ephemeral range so that no outgoing
# connection grabs it in the meantime.
free_port() {
    local low from=10000 to=65535 used p _
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    [ "$low" -le $((from + 1000)) ] || to=$((low - 1))
    for _ in $(seq 1 100); do
        p=$((from + RANDOM % (to - from + 1)))
        used=$(awk -v port="$(printf '%04X' "$p")" \
            'NR > 1 { n = split($2, a, ":"); if (a[n] == port) { print "used"; exit } }' \
            /proc/net/tcp /proc/net/tcp6 2>/dev/null)
        if [ -z "$used" ]; then
            echo "$p"
            return 0
        fi
    done
    fail "no free port found"
}

state() { podman inspect -f "{{.State.$1}}" "$NAME"; }

# Waits until the container's server logged that it listens on $PORT.
wait_listening() {
    local _
    for _ in $(seq 1 100); do
        if podman logs "$NAME" 2>&1 | grep -q "listening on http://0.0.0.0:$PORT "; then
            return 0
        fi
        if [ "$(state Status)" != "running" ]; then
            if podman logs "$NAME" 2>&1 | grep -q "Address already in use"; then
                return 2 # someone took the port meanwhile: the caller retries
            fi
            podman logs "$NAME" >&2 || true
            fail "container exited before listening (status $(state ExitCode))"
        fi
        sleep 0.1
    done
    podman logs "$NAME" >&2 || true
    fail "server did not report listening on port $PORT"
}

expect_eq() { # what, got, want
    if [ "$2" != "$3" ]; then
        printf 'test-docker: FAIL: %s\n  got:  %s\n  want: %s\n' "$1" "$2" "$3" >&2
        exit 1
    fi
    say "ok: $1"
}

# --- main -------------------------------------------------------------------

need_packages
setup_storage
say "podman $(podman version -f '{{.Client.Version}}'), runc $(runc --version | awk 'NR==1 {print $3}')"

t=$SECONDS
make_base_images
say "base images ready ($((SECONDS - t)) s)"

start_prometheus_build
t=$SECONDS
if ! podman build --pull=never --network host --format docker -f docker/Dockerfile \
    -t "$IMAGE" . >"$W/build.log" 2>&1; then
    tail -n 40 "$W/build.log" >&2
    fail "podman build failed"
fi
say "image built ($((SECONDS - t)) s)"

VERSION=$(sed -n 's/^#define L2D_VERSION "\(.*\)"$/\1/p' server/version.h)
[ -n "$VERSION" ] || fail "cannot read L2D_VERSION from server/version.h"

# Port from the environment (the HEALTHCHECK reads it too); a flag as the
# command, which replaces the image's CMD: the bind then comes from the
# image's L2D_BIND=0.0.0.0. --health-interval=disable: no periodic timer
# (podman makes those with systemd, which a build machine may lack; it still
# logs that it has none, kept in run.log); the check is run once below, as the
# engine would.
for attempt in 1 2 3; do
    PORT=$(free_port)
    if ! podman run -d --name "$NAME" --network host --health-interval=disable \
        -e L2D_PORT="$PORT" "$IMAGE" --drain-timeout "$DRAIN_TIMEOUT" >"$W/run.log" 2>&1; then
        cat "$W/run.log" >&2
        fail "podman run failed"
    fi
    rc=0
    wait_listening || rc=$?
    [ "$rc" -eq 0 ] && break
    say "port $PORT was taken meanwhile (try $attempt), picking another"
    podman rm -f -t 0 "$NAME" >/dev/null 2>&1
    [ "$attempt" -lt 3 ] || fail "no port could be bound in 3 tries"
done
say "container $NAME listening on 0.0.0.0:$PORT"

expect_eq "GET /healthz" "$(curl -sS --max-time 10 "http://127.0.0.1:$PORT/healthz")" \
    "{\"status\":\"ok\",\"version\":\"$VERSION\"}"

expect_eq "POST /l2_loss [[1,2],[3,4]]" \
    "$(curl -sS --max-time 10 -H 'Content-Type: application/json' -d '[[1, 2], [3, 4]]' \
        "http://127.0.0.1:$PORT/l2_loss")" \
    '{"loss": 15.0, "sum_squares": 30.0, "norm": 5.477225575051661, "count": 4, "max_abs": 4.0, "shape": [2, 2], "dtype": "float64"}'

expect_eq "POST /regularize?scale=0.01 raw float32 [0.5,-1.25,2,3]" \
    "$(printf '\x00\x00\x00\x3f\x00\x00\xa0\xbf\x00\x00\x00\x40\x00\x00\x40\x40' |
        curl -sS --max-time 10 -H 'Content-Type: application/octet-stream' --data-binary @- \
            "http://127.0.0.1:$PORT/regularize?scale=0.01&dtype=float32")" \
    '{"loss": 0.0740625, "sum_squares": 14.8125, "norm": 3.848701079585163, "count": 4, "max_abs": 3.0, "shape": [4], "dtype": "float32", "scale": 0.01}'

# The image's HEALTHCHECK (l2d --healthcheck), as the engine runs it.
if ! out=$(podman healthcheck run "$NAME" 2>&1); then
    fail "HEALTHCHECK failed: $out"
fi
expect_eq "HEALTHCHECK" "$(state Health.Status)" "healthy"
# ... and it can fail: nothing listens on port 1.
if podman exec "$NAME" /usr/local/bin/l2d --healthcheck "http://127.0.0.1:1/healthz" \
    >/dev/null 2>&1; then
    fail "l2d --healthcheck succeeded against a closed port"
fi
say "ok: --healthcheck exits non-zero when nothing answers"

pid=$(state Pid)
uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
expect_eq "server process uids (real effective saved fs)" "$uids" "10001 10001 10001 10001"
expect_eq "podman exec id -u" "$(podman exec "$NAME" id -u)" "10001"

# --- Prometheus, with docker/prometheus.yml, scrapes the container ---------
# Prometheus from Debian's package in a container (no registry here); compose
# names the target l2d:8080, which on the host network is 127.0.0.1:$PORT.
grep -qx '          - l2d:8080' docker/prometheus.yml ||
    fail "docker/prometheus.yml: expected the scrape target l2d:8080"
if ! grep -qx '  l2d:' docker/compose.yaml || ! grep -q 'L2D_PORT: "8080"' docker/compose.yaml; then
    fail "docker/compose.yaml: expected the service l2d on port 8080"
fi
t=$SECONDS
wait "$PROM_BUILD_PID" || {
    PROM_BUILD_PID=""
    tail -n 30 "$W/prom-build.log" >&2
    fail "building the Prometheus image failed"
}
PROM_BUILD_PID=""
mkdir -p "$W/prom-config"
sed "s|^          - l2d:8080\$|          - 127.0.0.1:$PORT|" docker/prometheus.yml \
    >"$W/prom-config/prometheus.yml"
mkdir -p "$W/prom-config/rules"
cp docker/prometheus/alerts.yml "$W/prom-config/rules/alerts.yml"
chmod -R a+rX "$W/prom-config"
PROM_PORT=$(free_port)
podman run -d --name "$NAME-prometheus" --network host --user prometheus \
    -v "$W/prom-config:/etc/prometheus:ro" --entrypoint /usr/bin/prometheus \
    "localhost/l2d-prometheus:$TAG" --config.file=/etc/prometheus/prometheus.yml \
    --storage.tsdb.path=/tmp/prometheus --web.listen-address="127.0.0.1:$PROM_PORT" \
    >"$W/prom-run.log" 2>&1 || {
    cat "$W/prom-run.log" >&2
    fail "starting Prometheus failed"
}
# prom_query QUERY: prints the first sample's value, nothing when none.
prom_query() {
    curl -sS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" \
        --data-urlencode "query=$1" 2>/dev/null |
        sed -n 's/.*"value":\[[0-9.]*,"\([^"]*\)"\].*/\1/p' || true
}
up=""
for _ in $(seq 1 120); do
    up=$(prom_query 'up{job="l2d"}')
    [ "$up" = 1 ] && break
    sleep 0.5
done
if [ "$up" != 1 ]; then
    podman logs "$NAME-prometheus" 2>&1 | tail -n 20 >&2
    fail "Prometheus did not scrape l2d (up{job=\"l2d\"} = '$up')"
fi
say "ok: Prometheus scrapes l2d with docker/prometheus.yml ($((SECONDS - t)) s)"
expect_eq "Prometheus: l2d_requests_total{endpoint=\"l2_loss\",code=\"200\"}" \
    "$(prom_query 'l2d_requests_total{job="l2d",endpoint="l2_loss",code="200"}')" "1"
# A tracked result in the image reaches Prometheus as l2d_tracked_norm, and
# the alert rules of docker/prometheus/alerts.yml are loaded beside it.
curl -sf -X POST -H 'Content-Type: application/json' --data '[3, 4]' \
    "http://127.0.0.1:$PORT/l2_loss?track=image-check" >/dev/null || fail "POST /l2_loss?track="
v=""
for _ in $(seq 1 60); do
    v=$(prom_query 'l2d_tracked_norm{job="l2d",model="image-check",tensor=""}')
    [ "$v" = 5 ] && break
    sleep 0.5
done
expect_eq "Prometheus: l2d_tracked_norm{model=\"image-check\",tensor=\"\"}" "$v" "5"
rules=$(curl -sS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/rules" | grep -o '"name":"L2d[A-Za-z]*"' | sort -u | wc -l)
expect_eq "Prometheus: alert rules loaded from alerts.yml" "$rules" "3"
podman stop -t 10 "$NAME-prometheus" >/dev/null 2>&1

SIZE=$(podman image inspect -f '{{.Size}}' "$IMAGE")
BASE=$(podman image inspect -f '{{.Size}}' localhost/debian:bookworm-slim)

t=$SECONDS
# (podman may log that it has no systemd timer to remove: kept in stop.log.)
podman stop -t "$STOP_TIMEOUT" "$NAME" >"$W/stop.log" 2>&1 || {
    cat "$W/stop.log" >&2
    fail "podman stop failed"
}
stopped=$((SECONDS - t))
expect_eq "state after podman stop" "$(state Status)" "exited"
expect_eq "exit code after SIGTERM (137 would mean SIGKILL)" "$(state ExitCode)" "0"
podman logs "$NAME" 2>&1 | sed 's/^/  log: /' | tail -n 8

say "stopped in ${stopped} s (lame duck 5 s, drain timeout ${DRAIN_TIMEOUT} s)"
mib() { echo "$((($1 + 524288) / 1048576)) MiB"; }
say "image size: $SIZE bytes ($(mib "$SIZE")): base bookworm-slim $(mib "$BASE"), l2d layers $(((SIZE - BASE + 512) / 1024)) KiB"
say "all checks passed in $((SECONDS - START)) s"
