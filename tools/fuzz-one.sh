#!/bin/sh
# fuzz-one.sh NAME FUZZ_DIR OPTS -- one libFuzzer harness run for `make fuzz`:
# a scratch corpus seeded from tests/fuzz/corpus/NAME, the dictionary when
# there is one, the log in FUZZ_DIR/fuzz_NAME.log. Prints one line; on a
# failure also the log's tail and the artifacts, and exits 1.
set -u
n=$1 dir=$2 opts=$3
mkdir -p "$dir/corpus-$n" "$dir/artifacts-$n"
if [ -d "tests/fuzz/corpus/$n" ]; then cp -R "tests/fuzz/corpus/$n/." "$dir/corpus-$n/"; fi
dict=
if [ -f "tests/fuzz/$n.dict" ]; then dict="-dict=tests/fuzz/$n.dict"; fi
start=$(date +%s)
# shellcheck disable=SC2086 # opts is a list of libFuzzer flags
"./$dir/fuzz_$n" $opts $dict "-artifact_prefix=$dir/artifacts-$n/" "$dir/corpus-$n" \
    >"$dir/fuzz_$n.log" 2>&1
rc=$?
secs=$(($(date +%s) - start))
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz_$n.log" | tail -n 1)
if [ $rc -ne 0 ]; then
    # Gathered first and printed at once, so that the report of another
    # harness failing at the same time comes before or after it, not inside.
    out=$(
        echo "fuzz: $n FAILED (exit $rc after $secs s); log $dir/fuzz_$n.log:"
        grep -v '^#' "$dir/fuzz_$n.log" | tail -n 40
        ls "$dir/artifacts-$n/"
    )
    printf '%s\n' "$out"
    exit 1
fi
echo "fuzz: $n: ${execs:-?} executions in $secs s"
