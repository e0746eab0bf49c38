#!/usr/bin/env bash
# The README's voice table (issue 17) from one run of the voice bench:
#   1. frontdesk against the in-repo floor, continuous 20 ms audio both ways,
#      server pinned to CPU 0 and the generator to CPU 1: 100, 300, 600, 1,000 calls,
#      each server $VOICE_REPEAT times (3 by default) in alternation, the median shown
#      (one run's CPU per call-second moves by 10-20% with the machine's state);
#   2. the same for frontdesk with TLS (https, wss) served by itself: TLS's cost;
#   3. the realistic shape (model audio in bursts) at 2,500 calls, server and
#      generator sharing both CPUs: the floor and frontdesk plain, then frontdesk with TLS.
# Every row lands in one table in $OUT (default target/voice_table.md), with
# each run's conditions (load average, shape) listed under it.
#
#   benches/voice_table.sh                      # on a quiet machine
#   VOICE_EXTRA="--fifo 10" benches/voice_table.sh   # on a busy one (root: SCHED_FIFO)
#   VOICE_SECONDS=5 VOICE_REPEAT=1 benches/voice_table.sh   # a quick check that every mode runs
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${VOICE_SECONDS:-20}
extra=${VOICE_EXTRA:-}
out=${OUT:-target/voice_table.md}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

cargo bench --bench voice --no-run

run() {
    # shellcheck disable=SC2086 # $extra is a list of flags
    cargo bench --bench voice -- "$@" --seconds "$seconds" $extra | tee -a "$log"
}

run --calls 100,300,600,1000 --repeat "${VOICE_REPEAT:-3}"
run --calls 100,300,600,1000 --only frontdesk --tls
run --calls 2500 --shape bursts --no-pin --ramp 250
run --calls 2500 --shape bursts --no-pin --ramp 250 --only frontdesk --tls

{
    grep -m1 '^| calls |' "$log"
    grep -m1 '^| --- |' "$log"
    grep '^| [0-9]' "$log"
    echo
    grep -v '^|' "$log" | sed 's/^/- /'
} >"$out"
cat "$out"
