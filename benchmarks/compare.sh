#!/bin/sh
# Runs benchmark classes from two builds of the repository in the same session, alternating,
# so that a change is measured against its base on the same machine under the same load:
#
#   benchmarks/compare.sh BASE_COMMIT 'FILTER' [ROUNDS]
#
# BASE_COMMIT is exported with `git archive` into a temporary directory (the repository is not
# touched); the benchmark sources of the working tree are copied over it, so a benchmark added
# with the change also runs against the base (it must use only APIs both sides have). Each round
# runs the base, then the working tree; results go to BenchmarkDotNet.Artifacts/compare/.
set -eu
base=$1
filter=$2
rounds=${3:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$root" archive "$base" | tar -x -C "$work"
cp "$root"/benchmarks/Protocols.Benchmarks/*.cs "$work/benchmarks/Protocols.Benchmarks/"
out="$root/BenchmarkDotNet.Artifacts/compare"
mkdir -p "$out"
dotnet build "$work/benchmarks/Protocols.Benchmarks" -c Release >/dev/null
dotnet build "$root/benchmarks/Protocols.Benchmarks" -c Release >/dev/null
echo "load: $(uptime)"
i=1
while [ "$i" -le "$rounds" ]; do
    for side in base head; do
        dir=$root
        [ "$side" = base ] && dir=$work
        echo "== round $i: $side ($( [ "$side" = base ] && echo "$base" || git -C "$root" rev-parse --short HEAD))"
        (cd "$dir/benchmarks/Protocols.Benchmarks" && dotnet run -c Release --no-build -- --filter "$filter" --artifacts "$out/$side-$i") \
            | sed -n '/^| *Method/,/^$/p'
    done
    i=$((i + 1))
done
echo "load: $(uptime)"
