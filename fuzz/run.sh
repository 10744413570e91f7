#!/usr/bin/env bash
# Coverage-guided fuzzing with afl-fuzz and SharpFuzz (docs/fuzzing.md).
#
#   fuzz/run.sh TARGET[,TARGET...]|all [SECONDS]   fuzz each target for SECONDS (default 60), one at a time
#
# Publishes fuzz/Protocols.Fuzz twice under $FUZZ_WORK (default /tmp/protocols-fuzz): plain/ for
# replaying and minimizing, instrumented/ whose library assemblies (Protocols.Wire, Ip, Udp, Tcp,
# Tls) are rewritten by the sharpfuzz tool so afl sees their branches. Each target starts from its
# seeds in fuzz/corpus/TARGET. Every crash is replayed on the plain build, minimized, and saved as
# fuzz/crashes/TARGET/<hash> (what the replay tests in tests/Protocols.Fuzz.Tests run), and its
# failure printed. One line per target:
#   fuzz: TARGET pass|FAIL seconds=S execs=N execs_per_sec=R edges=E coverage=C% corpus=K crashes=X hangs=H
# and a machine-readable copy in $FUZZ_WORK/results.tsv. Exit status: 0 no crash, 1 a crash or an
# afl failure, 3 afl-fuzz is not installed (nothing ran).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ $# -lt 1 ]; then
  echo "usage: fuzz/run.sh TARGET[,TARGET...]|all [SECONDS]" >&2
  exit 2
fi
which_targets=$1
seconds=${2:-60}
work=${FUZZ_WORK:-/tmp/protocols-fuzz}

if ! command -v afl-fuzz >/dev/null; then
  echo "fuzz: afl-fuzz not found (Debian: apt-get install afl++); nothing fuzzed"
  exit 3
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
mkdir -p "$work"
rm -rf "$work/plain" "$work/instrumented" "$work/out"
echo "fuzz: building into $work"
if ! dotnet publish fuzz/Protocols.Fuzz -c Release -o "$work/plain" >"$work/publish.log" 2>&1; then
  tail -20 "$work/publish.log"
  echo "fuzz: build failed"
  exit 1
fi
cp -r "$work/plain" "$work/instrumented"
dotnet tool restore >/dev/null || { echo "fuzz: dotnet tool restore failed"; exit 1; }
for lib in Protocols.Wire Protocols.Ip Protocols.Udp Protocols.Tcp Protocols.Tls; do
  if ! dotnet tool run sharpfuzz "$work/instrumented/$lib.dll" >"$work/instrument.log" 2>&1; then
    cat "$work/instrument.log"
    echo "fuzz: instrumenting $lib failed"
    exit 1
  fi
done

dotnet_path=$(command -v dotnet)
plain=("$dotnet_path" "$work/plain/Protocols.Fuzz.dll")
mapfile -t all < <("${plain[@]}" list | cut -f1)
if [ "$which_targets" = all ]; then
  targets=("${all[@]}")
else
  IFS=, read -r -a targets <<<"$which_targets"
fi

# afl-fuzz runs `dotnet` (not instrumented itself: the check is skipped), with no UI, without
# pinning a core (the machine is shared), and leaves core dumps to the system.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 \
  AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_FORKSRV_INIT_TMOUT=60000 AFL_FAST_CAL=1

results="$work/results.tsv"
: >"$results"
failed=0
for t in "${targets[@]}"; do
  if [ ! -d "fuzz/corpus/$t" ] || [ -z "$(ls -A "fuzz/corpus/$t" 2>/dev/null)" ]; then
    echo "fuzz: $t FAIL no seeds in fuzz/corpus/$t"
    printf '%s\tfail\t0\t0\t0\t0\t0\t0\t0\n' "$t" >>"$results"
    failed=1
    continue
  fi
  out="$work/out/$t"
  mkdir -p "$out"
  # -t: a run slower than 10 s is a hang (SharpFuzz then loses its fork server and afl stops).
  afl-fuzz -i "fuzz/corpus/$t" -o "$out" -V "$seconds" -t 10000 -m none -- \
    "$dotnet_path" "$work/instrumented/Protocols.Fuzz.dll" afl "$t" >"$out/afl.log" 2>&1
  rc=$?
  stats="$out/default/fuzzer_stats"
  stat() { sed -n "s/^$1 *: *//p" "$stats" 2>/dev/null | head -1; }
  execs=$(stat execs_done); eps=$(stat execs_per_sec); edges=$(stat edges_found); total=$(stat total_edges)
  cvg=$(stat bitmap_cvg); corpus=$(stat corpus_count); crashes=$(stat saved_crashes); hangs=$(stat saved_hangs)
  runtime=$(stat run_time)
  crashes=${crashes:-0}; hangs=${hangs:-0}
  status=pass
  if [ "$rc" -ne 0 ] || [ ! -f "$stats" ]; then
    status=fail
    echo "fuzz: $t: afl-fuzz exited with $rc; the end of $out/afl.log:"
    tail -15 "$out/afl.log" | sed 's/^/    /'
    # SharpFuzz loses its fork server on a hang or an uncatchable crash; the input is kept here.
    if [ -f "$out/default/.cur_input" ]; then
      mkdir -p "$out/default/crashes"
      cp "$out/default/.cur_input" "$out/default/crashes/id:aborted"
    fi
  fi

  # Replay, minimize and save each crash.
  for crash in "$out"/default/crashes/id:*; do
    [ -f "$crash" ] || continue
    status=fail
    small="$out/$(basename "$crash" | tr ':,' '__').min"
    if "${plain[@]}" minimize "$t" "$crash" "$small" >"$out/minimize.log" 2>&1; then
      name=$(sha1sum "$small" | cut -c1-16)
      mkdir -p "fuzz/crashes/$t"
      cp "$small" "fuzz/crashes/$t/$name"
      echo "fuzz: $t crash saved as fuzz/crashes/$t/$name ($(cat "$out/minimize.log"))"
      echo "    input: $(od -An -tx1 -v "$small" | tr -d ' \n' | cut -c1-400)"
      "${plain[@]}" run "$t" "$small" 2>&1 | head -8 | sed 's/^/    /'
    else
      echo "fuzz: $t: $(basename "$crash") does not fail outside afl (a hang or an uncatchable exception?): $(cat "$out/minimize.log")"
      mkdir -p "fuzz/crashes/$t"
      cp "$crash" "fuzz/crashes/$t/unreproduced-$(sha1sum "$crash" | cut -c1-16)"
    fi
  done

  [ "$status" = pass ] || failed=1
  printf 'fuzz: %s %s seconds=%s execs=%s execs_per_sec=%s edges=%s/%s coverage=%s corpus=%s crashes=%s hangs=%s\n' \
    "$t" "$([ "$status" = pass ] && echo pass || echo FAIL)" "${runtime:-?}" "${execs:-?}" "${eps:-?}" "${edges:-?}" "${total:-?}" "${cvg:-?}" "${corpus:-?}" "$crashes" "$hangs"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$status" "${runtime:-0}" "${execs:-0}" "${edges:-0}" "${cvg:-0}" "${corpus:-0}" "$crashes" "$hangs" >>"$results"
done

exit $failed
