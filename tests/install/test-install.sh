#!/usr/bin/env bash
# test-install.sh -- check `make install` and `make uninstall` in a temporary
# DESTDIR: the binary runs (--version), the man page renders without groff
# warnings and documents every flag that `l2d --help` lists, the systemd unit
# points at the installed binary and passes `systemd-analyze verify` (where
# systemd-analyze exists); a custom PREFIX is honoured; uninstall leaves no file.
#
# Usage: tests/install/test-install.sh [L2D_BINARY]     (default build/l2d)
set -euo pipefail
cd "$(dirname "$0")/../.."

L2D=${1:-build/l2d}
MAKE=${MAKE:-make}
T=$(mktemp -d "${TMPDIR:-/tmp}/l2d-install.XXXXXX")
trap 'rm -rf "$T"' EXIT
checks=0

fail() {
    echo "test-install: FAIL: $*" >&2
    exit 1
}
ok() {
    checks=$((checks + 1))
    echo "test-install: ok: $*"
}

[ -x "$L2D" ] || fail "no l2d binary at $L2D (run make first)"

# --- the default PREFIX (/usr/local) --------------------------------------
D="$T/root"
"$MAKE" --no-print-directory -s install DESTDIR="$D" >"$T/install.log" 2>&1 ||
    fail "make install: $(cat "$T/install.log")"

bin="$D/usr/local/bin/l2d"
man="$D/usr/local/share/man/man1/l2d.1"
unit="$D/usr/local/lib/systemd/system/l2d.service"
[ -x "$bin" ] || fail "$bin missing or not executable"
cmp -s "$bin" "$L2D" || fail "$bin is not $L2D"
version=$("$bin" --version) || fail "installed l2d --version failed"
case "$version" in "l2d "[0-9]*) ;; *) fail "unexpected --version: $version" ;; esac
ok "binary installed, mode $(stat -c %a "$bin"), runs: $version"

[ -f "$man" ] || fail "$man missing"
[ "$(stat -c %a "$man")" = 644 ] || fail "$man mode $(stat -c %a "$man"), expected 644"
if command -v groff >/dev/null; then
    LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$man" 2>"$T/groff.err" || fail "groff failed"
    [ ! -s "$T/groff.err" ] || fail "groff warnings: $(cat "$T/groff.err")"
    LC_ALL=C.UTF-8 groff -man -Tutf8 -P-cbou "$man" 2>/dev/null | grep -q "^EXIT STATUS" ||
        fail "rendered man page lacks EXIT STATUS"
    ok "man page installed, renders without groff warnings"
else
    echo "test-install: skipped: groff checks of the man page (no groff; Debian: groff-base)"
fi

# Every flag of --help is documented (the page escapes dashes: \-\-port).
flags=$("$bin" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u)
[ -n "$flags" ] || fail "no flags found in l2d --help"
for f in $flags; do
    grep -qF -- "${f//-/\\-}" "$man" || fail "man page does not document $f (listed by --help)"
    var="L2D_$(echo "${f#--}" | tr 'a-z-' 'A-Z_')"
    case "$f" in --help | --version | --healthcheck) continue ;; esac
    grep -qF -- "$var" "$man" || fail "man page does not document $var"
done
ok "man page documents all $(echo "$flags" | wc -w) flags of --help and their L2D_* variables"

[ -f "$unit" ] || fail "$unit missing"
grep -qx 'ExecStart=/usr/local/bin/l2d' "$unit" || fail "unit ExecStart is not /usr/local/bin/l2d"
for want in DynamicUser=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
    NoNewPrivileges=yes CapabilityBoundingSet= MemoryDenyWriteExecute=yes \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' SystemCallFilter=@system-service; do
    grep -qxF -- "$want" "$unit" || fail "unit lacks $want"
done
ok "systemd unit installed with ExecStart=/usr/local/bin/l2d and its hardening"
if command -v systemd-analyze >/dev/null; then
    # verify wants the ExecStart binary to exist: point it at the staged one.
    sed "s|^ExecStart=.*|ExecStart=$bin|" "$unit" >"$T/l2d.service"
    systemd-analyze verify --man=no "$T/l2d.service" >"$T/verify.log" 2>&1 ||
        fail "systemd-analyze verify: $(cat "$T/verify.log")"
    [ ! -s "$T/verify.log" ] || fail "systemd-analyze verify: $(cat "$T/verify.log")"
    # Exposure 0-100 (shown as 0.0-10.0); above 2.0 means hardening was lost.
    systemd-analyze security --offline=yes --threshold=20 "$T/l2d.service" >"$T/security.log" 2>&1 ||
        fail "systemd-analyze security: $(tail -n 3 "$T/security.log")"
    ok "systemd-analyze verify clean; $(grep -o 'exposure level.*' "$T/security.log")"
else
    echo "test-install: skipped: systemd-analyze verify of the unit (no systemd-analyze)"
fi

"$MAKE" --no-print-directory -s uninstall DESTDIR="$D" >"$T/uninstall.log" 2>&1 ||
    fail "make uninstall: $(cat "$T/uninstall.log")"
left=$(find "$D" -type f)
[ -z "$left" ] || fail "files left after uninstall: $left"
ok "make uninstall removed every installed file"

# --- a custom PREFIX ------------------------------------------------------
D="$T/opt"
"$MAKE" --no-print-directory -s install DESTDIR="$D" PREFIX=/opt/l2d >"$T/install.log" 2>&1 ||
    fail "make install PREFIX=/opt/l2d: $(cat "$T/install.log")"
for f in bin/l2d share/man/man1/l2d.1 lib/systemd/system/l2d.service; do
    [ -f "$D/opt/l2d/$f" ] || fail "PREFIX=/opt/l2d: $f missing"
done
grep -qx 'ExecStart=/opt/l2d/bin/l2d' "$D/opt/l2d/lib/systemd/system/l2d.service" ||
    fail "PREFIX=/opt/l2d: unit ExecStart not rewritten"
"$MAKE" --no-print-directory -s uninstall DESTDIR="$D" PREFIX=/opt/l2d >/dev/null 2>&1
[ -z "$(find "$D" -type f)" ] || fail "PREFIX=/opt/l2d: files left after uninstall"
ok "PREFIX=/opt/l2d installs under /opt/l2d and uninstalls"

echo "test-install: all $checks checks passed"
