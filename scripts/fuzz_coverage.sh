#!/usr/bin/env bash
# Line coverage of each fuzz target's corpus over the code it fuzzes: a
# clang source-coverage build of the targets (build-fuzzcov/), each run
# once over its inputs (-runs=0: nothing new), llvm-cov per function over
# the files that parse what the target feeds; the parser and dispatch
# functions apart (the rest of those files is I/O and encoders). Prints a
# table, then one machine-read line per target:
#   fuzz-coverage: TARGET inputs=N parser_lines_pct=P file_lines_pct=F
# Usage: scripts/fuzz_coverage.sh [CORPUS_ROOT]
#   CORPUS_ROOT/<target>/ (default build-fuzz/corpus, what scripts/fuzz.sh
#   keeps), plus tests/fuzz/corpus/<name>/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$top/build-fuzz/corpus}
build=$top/build-fuzzcov
cov="-fprofile-instr-generate -fcoverage-mapping"

CC=clang cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DVIGIL_FUZZ=ON -DCMAKE_C_FLAGS="$cov" -DCMAKE_EXE_LINKER_FLAGS="$cov" >/dev/null
cmake --build "$build" --target fuzz -j "$(nproc)" >/dev/null

# What each target is there to cover: its files, and in them the functions
# that parse and dispatch the bytes it feeds (a regular expression over
# llvm-cov's function names; the rest of those files is I/O and encoders
# the target does not reach by design).
declare -A files=(
	[fuzz-wire]="wire/assembler.c wire/frame.c wire/payload.c"
	[fuzz-session]="host/lib/dispatch.c host/lib/kernel.c"
	[fuzz-agent-kmsg]="guest/kmsg.c guest/scx.c"
	[fuzz-agent-cmdline]="guest/init.c"
	[fuzz-agent-host]="guest/chan.c guest/relay.c"
	[fuzz-agent-workload]="guest/workload.c"
	[fuzz-agent-inspect]="guest/inspect.c"
	[fuzz-agent-flows]="guest/flowmsg.c guest/flows.c"
	[fuzz-cli-console]="host/cli/console.c"
	[fuzz-cli-qmp]="host/cli/qmp.c"
	[fuzz-cli-record]="host/loop/record.c"
	[fuzz-cli-report]="host/cli/report.c host/cli/report_html.c"
	[fuzz-cli-vmlinux]="host/cli/vmlinux.c"
)
declare -A parsers=(
	[fuzz-wire]='^(?!.*(_encode|put_|_room|seal|msg_name|msg_class|msg_find))'
	[fuzz-session]='.'
	[fuzz-agent-kmsg]='kmsg_parse|field|hexval|scx_parse_line|find'
	[fuzz-agent-cmdline]='init_parse_cmdline|init_param'
	[fuzz-agent-host]='relay_parse|chan_read|chan.c:dispatch'
	[fuzz-agent-workload]='wl_parse|wl_env_merge|take_value'
	[fuzz-agent-inspect]='inspect_parse|_len$|inspect_sample'
	[fuzz-agent-flows]='flowmsg|read_attrs|read_tcp_info|error_of|flows_feed$|:feed$|on_destroy|lookup|short_flow|:put$|is_listen|flush_batch'
	[fuzz-cli-console]='vigil_console_(feed|flush)|con_line'
	[fuzz-cli-qmp]='on_readable|qmp_line|qmp_reply|caps_done|keep_version'
	[fuzz-cli-record]='reader_init|rec_next|vigil_rec_pair'
	[fuzz-cli-report]='vigil_report_event|vigil_report_replay|report_output|clock_lag_line|ev_|class_words|scen_of|open_stall|report_proc|add_mark|tail_put|report_bin|rebin|^report.c:j|esc'
	[fuzz-cli-vmlinux]='bzimage_payload|kernel_decompress|elf_has_pvh|gunzip|unxz|unzstd|unlz4|note_has_pvh|magic'
)
printf '%-22s %8s %14s %12s\n' target inputs parser_lines file_lines
summary=$build/summary.txt
: >"$summary"
for t in $(printf '%s\n' "${!files[@]}" | sort); do
	dirs=()
	[ -d "$corpus/$t" ] && dirs+=("$corpus/$t")
	d=$top/tests/fuzz/corpus/${t#fuzz-}
	[ -d "$d" ] && dirs+=("$d")
	n=0
	for d in "${dirs[@]}"; do n=$((n + $(find "$d" -type f | wc -l))); done
	rm -f "$build/$t.profraw"
	LLVM_PROFILE_FILE="$build/$t.profraw" "$build/tests/fuzz/$t" -runs=0 "${dirs[@]}" \
		>/dev/null 2>&1 || true
	llvm-profdata merge -sparse "$build/$t.profraw" -o "$build/$t.profdata"
	srcs=()
	for f in ${files[$t]}; do srcs+=("$top/$f"); done
	# per function: Name Regions Miss Cover Lines Miss Cover ...
	read -r pl fl < <(llvm-cov report "$build/tests/fuzz/$t" -instr-profile="$build/$t.profdata" \
		-show-functions "${srcs[@]}" | python3 -c '
import re, sys
pat = re.compile(sys.argv[1])
pl = pm = fl = fm = 0
for line in sys.stdin:
    f = line.split()
    if len(f) < 7 or not f[4].isdigit() or f[0] in ("Name", "TOTAL"):
        continue
    lines, miss = int(f[4]), int(f[5])
    fl += lines; fm += miss
    if pat.search(f[0]):
        pl += lines; pm += miss
print("%.2f %.2f" % (100.0 * (pl - pm) / pl if pl else 0, 100.0 * (fl - fm) / fl if fl else 0))
' "${parsers[$t]}")
	printf '%-22s %8d %13s%% %11s%%\n' "$t" "$n" "$pl" "$fl"
	echo "fuzz-coverage: $t inputs=$n parser_lines_pct=$pl file_lines_pct=$fl" >>"$summary"
done
echo
cat "$summary"
