#!/usr/bin/env bash
# Fuzz the parsers of outside text with libFuzzer (issue 16): the MDTraj topology JSON, the OpenMM
# System XML (summary and typed parse with the force recogniser), the run configuration (YAML file
# or --set overrides) and the dataset index.json. Builds the separate package Tools/fuzz with
# `--sanitize=fuzzer --sanitize=address` (a plain `swift build` of the project never needs it) and
# runs each target for a bounded time, starting from the seeds in Tools/fuzz/corpus/<target>.
#
#   bash Tools/fuzz.sh [SECONDS_PER_TARGET (default 120)] [TARGET…]
#
# Leak detection is off: the leaks LeakSanitizer reports come from Foundation itself (FoundationXML
# error objects, FileManager.contents of an empty file), not from tbg.
# Not part of CI's default run (Tools/run_tests.sh): it takes minutes. The corpus grown by a run and
# any crash, leak or timeout input go to Tools/fuzz/work/<target>/ (git-ignored); the script prints
# them and exits 1 if any target found one. Every such input becomes a regression test.
set -u
cd "$(dirname "$0")/fuzz"
seconds=${1:-120}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(topology system-xml run-config dataset-index)
declare -A binary=([topology]=FuzzTopology [system-xml]=FuzzSystemXML [run-config]=FuzzRunConfig [dataset-index]=FuzzDatasetIndex)

echo "fuzz.sh: building Tools/fuzz (release, fuzzer + address sanitizer)"
mkdir -p work
if ! swift build -c release --sanitize=fuzzer --sanitize=address >work/build.log 2>&1; then
    echo "fuzz.sh: error: the build failed (Tools/fuzz/work/build.log):" >&2
    grep -E "error" work/build.log | head -20 >&2
    exit 2
fi
status=0
for target in "${targets[@]}"; do
    exe=.build/release/${binary[$target]:-none}
    if [ ! -x "$exe" ]; then echo "fuzz.sh: error: no fuzz target '$target' (built: ${!binary[*]})" >&2; exit 2; fi
    work=work/$target
    mkdir -p "$work/corpus" "$work/artifacts"
    cp -n corpus/"$target"/* "$work/corpus/" 2>/dev/null || true
    echo "fuzz.sh: $target for $seconds s"
    ASAN_OPTIONS=detect_leaks=0 "$exe" "$work/corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 -detect_leaks=0 \
        -artifact_prefix="$work/artifacts/" -print_final_stats=1 >"$work/log.txt" 2>&1
    code=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log.txt")
    found=$(ls "$work/artifacts" 2>/dev/null)
    if [ "$code" != 0 ] || [ -n "$found" ]; then
        status=1
        echo "fuzz.sh: $target FOUND A PROBLEM (exit $code) after ${runs:-?} runs; inputs: ${found:-none}; log: Tools/fuzz/$work/log.txt"
        grep -E "ERROR|Fatal error|SUMMARY" "$work/log.txt" | head -5
    else
        echo "fuzz.sh: $target clean: ${runs:-?} runs in $seconds s, corpus $(ls "$work/corpus" | wc -l) inputs"
    fi
done
exit $status
