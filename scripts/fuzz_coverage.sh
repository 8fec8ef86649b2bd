#!/usr/bin/env bash
# Line and region coverage of each fuzz target's corpus over the code it
# fuzzes: a clang source-coverage build of the targets (build-fuzzcov/),
# each run once over its corpus (-runs=0: no new inputs), llvm-cov on the
# files that parse what the target feeds. Prints a table, then one
# machine-read line per target:
#   fuzz-coverage: TARGET inputs=N lines_pct=L regions_pct=R
# Usage: scripts/fuzz_coverage.sh [CORPUS_ROOT]
#   CORPUS_ROOT/<target>/ (default build-fuzz/corpus, what scripts/fuzz.sh
#   keeps), plus tests/fuzz/seeds/<name>/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$top/build-fuzz/corpus}
build=$top/build-fuzzcov
cov="-fprofile-instr-generate -fcoverage-mapping"

CC=clang cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DVIGIL_FUZZ=ON -DCMAKE_C_FLAGS="$cov" -DCMAKE_EXE_LINKER_FLAGS="$cov" >/dev/null
cmake --build "$build" --target fuzz -j "$(nproc)" >/dev/null

# The files each target is there to cover: the parsers of the bytes it feeds.
declare -A files=(
	[fuzz-wire]="wire/assembler.c wire/frame.c wire/payload.c"
	[fuzz-session]="host/lib/dispatch.c host/lib/session.c host/lib/tracker.c host/lib/flows.c host/lib/inspect.c host/lib/classify.c host/lib/gstall.c host/lib/kernel.c host/lib/scenario.c host/lib/watchdog.c host/lib/snapshot.c host/lib/evidence.c host/lib/findings.c host/lib/verdict.c"
	[fuzz-agent-kmsg]="guest/kmsg.c guest/scx.c"
	[fuzz-agent-cmdline]="guest/init.c"
	[fuzz-agent-host]="guest/chan.c guest/relay.c"
	[fuzz-agent-workload]="guest/workload.c"
	[fuzz-agent-inspect]="guest/inspect.c"
	[fuzz-agent-flows]="guest/flowmsg.c guest/flows.c"
	[fuzz-cli-console]="host/cli/console.c"
	[fuzz-cli-qmp]="host/cli/qmp.c"
	[fuzz-cli-record]="host/loop/record.c"
	[fuzz-cli-vmlinux]="host/cli/vmlinux.c"
)
printf '%-22s %8s %8s %8s\n' target inputs lines regions
for t in $(printf '%s\n' "${!files[@]}" | sort); do
	dirs=()
	[ -d "$corpus/$t" ] && dirs+=("$corpus/$t")
	[ -d "$top/tests/fuzz/seeds/${t#fuzz-}" ] && dirs+=("$top/tests/fuzz/seeds/${t#fuzz-}")
	n=0
	for d in "${dirs[@]}"; do n=$((n + $(find "$d" -type f | wc -l))); done
	rm -f "$build/$t.profraw"
	LLVM_PROFILE_FILE="$build/$t.profraw" "$build/tests/fuzz/$t" -runs=0 "${dirs[@]}" \
		>/dev/null 2>&1 || true
	llvm-profdata merge -sparse "$build/$t.profraw" -o "$build/$t.profdata"
	srcs=()
	for f in ${files[$t]}; do srcs+=("$top/$f"); done
	# TOTAL line: Regions Missed Cover Functions Missed Executed Lines Missed Cover ...
	read -r rc lc < <(llvm-cov report "$build/tests/fuzz/$t" -instr-profile="$build/$t.profdata" \
		"${srcs[@]}" | awk '/^TOTAL/ {print $4, $10}')
	printf '%-22s %8d %8s %8s\n' "$t" "$n" "$lc" "$rc"
	echo "fuzz-coverage: $t inputs=$n lines_pct=${lc%\%} regions_pct=${rc%\%}" >>"$build/summary.txt"
done
echo
cat "$build/summary.txt"
rm -f "$build/summary.txt"
