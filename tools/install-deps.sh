#!/bin/sh
# install-deps.sh -- install the Debian 12 packages l2d needs, if missing.
# Run as root (or with sudo available); prints the apt command otherwise.
set -eu
# build: gcc make pkg-config libmicrohttpd-dev libjansson-dev zlib1g-dev (gzip bodies, npz members),
# python3 python3-yaml (openapi.yaml converted to the /openapi.json built into the binary)
# tests: criterion, libcurl, MPFR (exact oracle), clang + its runtime (sanitizers,
# libFuzzer), clang-format (lint), python3 (the table check of api/numparse_pow10.h),
# python3-numpy (example client), openssl (TLS test
# certificates), prometheus (promtool and a real scrape), wrk (benchmarks), groff (man page
# check), valgrind (memcheck run), node (OpenAPI lint, manifest validation), nginx (the
# load balancer in front of replicas in the scale-out test), chromium (make test-ui: the page
# in a real browser)
PKGS="gcc make pkg-config libmicrohttpd-dev libjansson-dev zlib1g-dev libcriterion-dev \
libcurl4-openssl-dev libmpfr-dev clang libclang-rt-14-dev clang-format python3 python3-yaml python3-numpy \
openssl prometheus wrk curl groff-base valgrind nginx chromium nodejs npm"
if [ "${1:-}" = --list ]; then
    # one package a line, for .ci/run; node is left out where npm already runs
    for p in $PKGS; do
        case $p in nodejs | npm) command -v npm >/dev/null 2>&1 && continue ;; esac
        echo "$p"
    done
    exit 0
fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# A machine with its own Node.js (not Debian's) needs no nodejs/npm package.
if command -v npm >/dev/null 2>&1; then
    missing=$(echo "$missing" | tr ' ' '\n' | grep -vxE 'nodejs|npm' | tr '\n' ' ')
fi
missing=$(echo "$missing" | xargs)
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: run as root: apt-get install -y $missing" >&2; exit 1; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
