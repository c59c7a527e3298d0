#!/bin/sh
# promtool_metrics.sh -- `promtool check metrics` of an exposition on stdin,
# allowing exactly one remark: l2d_tracked_count is a gauge whose name ends
# in _count (the name is part of the API; there is no histogram or summary
# called l2d_tracked for it to collide with). Every other remark, and any
# parse error, fails: exit 1 with promtool's output on stderr.
#
# usage: promtool check metrics replacement: tests/ops/promtool_metrics.sh <metrics.txt
set -u

allowed='^l2d_tracked_count non-histogram and non-summary metrics should not have "_count" suffix$'
out=$(promtool check metrics 2>&1)
rc=$?
rest=$(printf '%s\n' "$out" | grep -v -e "$allowed" -e '^$')
if [ -n "$rest" ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; }; then
    printf 'promtool check metrics (exit %s):\n%s\n' "$rc" "$out" >&2
    exit 1
fi
exit 0
