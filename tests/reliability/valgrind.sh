#!/bin/sh
# valgrind.sh -- the integration tests against l2d under valgrind memcheck.
#
# L2D_BIN points at a wrapper that runs l2d under valgrind as its child,
# forwards SIGTERM/SIGINT to it and exits with its status (valgrind's 99
# when it found an error). The harness kills servers with SIGKILL in
# teardown, which would lose the leak report: the wrapper's child gets
# SIGTERM when the wrapper dies (setpriv --pdeathsig), so every l2d drains
# and exits and valgrind writes its full report. Once the tests are over,
# every report must say 0 errors and nothing definitely or indirectly lost.
#
# usage: sh tests/reliability/valgrind.sh path/to/l2d path/to/integration-tests path/to/openapi.json
# VALGRIND_TEST_ARGS adds arguments for the test binary (e.g. --filter 'flags/*')
# and runs them one at a time; otherwise the lifecycle and shutdown suites run
# one at a time, then the rest VALGRIND_JOBS at a time (2).
set -u

l2d=${1:?usage: valgrind.sh l2d integration-tests openapi.json}
tests=${2:?usage: valgrind.sh l2d integration-tests openapi.json}
spec=${3:?usage: valgrind.sh l2d integration-tests openapi.json}
dir=$(mktemp -d /tmp/l2d-valgrind.XXXXXX)
# Some tests run l2d as another user: it must reach the wrapper and write
# its report here.
chmod 1777 "$dir"
supp=$dir/valgrind.supp # a copy that other users can read too
cp "$(dirname "$0")/valgrind.supp" "$supp" && chmod 644 "$supp"
wrapper=$dir/l2d-valgrind

# A shell started with SIGINT or SIGTERM ignored (a background job's) cannot
# trap them: the wrapper first runs itself again with both at their default.
cat >"$wrapper" <<WRAP
#!/bin/sh
[ -n "\${L2D_VG_SIGNALS:-}" ] || exec env --default-signal=INT,TERM L2D_VG_SIGNALS=1 "\$0" "\$@"
setpriv --pdeathsig TERM valgrind --error-exitcode=99 --leak-check=full \\
    --suppressions=$supp \\
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \\
    --log-file=$dir/vg.%p.log $l2d "\$@" &
child=\$!
trap 'kill -TERM \$child 2>/dev/null' TERM
trap 'kill -INT \$child 2>/dev/null' INT
wait \$child
rc=\$?
while kill -0 \$child 2>/dev/null; do
    wait \$child
    rc=\$?
done
exit \$rc
WRAP
chmod 755 "$wrapper"

echo "valgrind: reports in $dir"
export L2D_BIN="$wrapper" L2D_OPENAPI_JSON="$spec"
export L2D_OPENAPI_YAML="${L2D_OPENAPI_YAML:-$(pwd)/openapi.yaml}"
if [ -n "${VALGRIND_TEST_ARGS:-}" ]; then
    # shellcheck disable=SC2086 # a list of test-binary arguments
    "$tests" --jobs 1 $VALGRIND_TEST_ARGS
    tests_rc=$?
else
    # The shutdown suites time exits and drains: one at a time, with the
    # whole machine; the rest VALGRIND_JOBS at a time.
    "$tests" --jobs 1 --filter '@(lifecycle|shutdown)/*'
    tests_rc=$?
    "$tests" --jobs "${VALGRIND_JOBS:-2}" --filter '!(lifecycle|shutdown)/*' || tests_rc=$?
fi

# Servers killed in teardown are still draining (up to their
# --drain-timeout, 10 s by default): wait for every report to end.
i=0
while [ $i -lt 600 ]; do
    open=0
    for f in "$dir"/vg.*.log; do
        [ -e "$f" ] || continue
        grep -q 'ERROR SUMMARY' "$f" || open=$((open + 1))
    done
    [ $open -eq 0 ] && break
    sleep 0.1
    i=$((i + 1))
done

runs=0
bad=0
for f in "$dir"/vg.*.log; do
    [ -e "$f" ] || continue
    runs=$((runs + 1))
    if ! grep -q 'ERROR SUMMARY: 0 errors' "$f" ||
        grep -qE '(definitely|indirectly) lost: [1-9]' "$f"; then
        bad=$((bad + 1))
        echo "valgrind: $f:"
        cat "$f"
    fi
done
echo "valgrind: $runs l2d runs under memcheck, $bad with errors or leaks; tests exit $tests_rc"
[ $runs -gt 0 ] || { echo "valgrind: no report written"; exit 1; }
[ $bad -eq 0 ] && [ $tests_rc -eq 0 ] || exit 1
rm -rf "$dir"
