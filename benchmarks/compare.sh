#!/bin/sh
# Runs benchmark classes from two commits in the same session, alternating, so that a change is
# measured against its base on the same machine under the same load:
#
#   benchmarks/compare.sh BASE_COMMIT HEAD_COMMIT 'FILTER' [ROUNDS]
#
# BENCH_CPU_TIME=1 times benchmarks that use CpuTimeConfig by the thread's CPU time, in process:
# on a machine shared with other work, wall time mostly measures who else was running.
# BENCH_ARGS adds BenchmarkDotNet options to every run.
#
# Both commits are exported with `git archive` into a temporary directory (the repository and its
# working tree are not touched, so work can go on meanwhile). The benchmark sources of HEAD_COMMIT
# are copied over the base, so a benchmark added with the change also runs against the base (it
# must use only APIs both sides have). Each round runs the base, then the head; BenchmarkDotNet's
# reports go to BenchmarkDotNet.Artifacts/compare/ of the repository.
set -eu
base=$1
head=$2
filter=$3
rounds=${4:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/base" "$work/head"
git -C "$root" archive "$base" | tar -x -C "$work/base"
git -C "$root" archive "$head" | tar -x -C "$work/head"
cp "$work"/head/benchmarks/Protocols.Benchmarks/*.cs "$work/base/benchmarks/Protocols.Benchmarks/"
out="$root/BenchmarkDotNet.Artifacts/compare"
mkdir -p "$out"
for side in base head; do
    dotnet build "$work/$side/benchmarks/Protocols.Benchmarks" -c Release >/dev/null
done
echo "load: $(uptime)"
i=1
while [ "$i" -le "$rounds" ]; do
    for side in base head; do
        commit=$base
        [ "$side" = head ] && commit=$head
        echo "== round $i: $side ($(git -C "$root" rev-parse --short "$commit"))"
        (cd "$work/$side/benchmarks/Protocols.Benchmarks" && dotnet run -c Release --no-build -- --filter "$filter" --artifacts "$out/$side-$i" ${BENCH_ARGS:-}) \
            | sed -n '/^| *Method/,/^$/p'
    done
    i=$((i + 1))
done
echo "load: $(uptime)"
