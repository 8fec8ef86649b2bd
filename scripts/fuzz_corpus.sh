#!/usr/bin/env bash
# Minimizes what fuzzing found into the corpora kept in the repository:
# for each target, libFuzzer's -merge=1 keeps the smallest set of inputs
# that covers what tests/fuzz/corpus/<name>/, build-fuzz/corpus/<target>/
# (scripts/fuzz.sh's working corpus) and the generated seeds,
# build-fuzz/seeds/<name>/ (vigil-fuzz-seeds, tests/fuzz/seeds/), cover
# together, and it replaces tests/fuzz/corpus/<name>/. Inputs over 64 KiB
# are left out unless a target needs them (wire, session, cli-vmlinux:
# frames and kernels are larger); cli-report's over 16 KiB (whole event
# files and recordings: the cap keeps its corpus at 5 MB, FUZZING.md).
# Run after a long fuzzing run; review the diff's size.
# Usage: scripts/fuzz_corpus.sh [TARGET...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-fuzz
[ -d "$build/tests/fuzz" ] || { echo "fuzz_corpus: build the targets first (scripts/fuzz.sh)" >&2; exit 1; }
seeds=$build/seeds
rm -rf "$seeds"
"$build/tests/fuzz/vigil-fuzz-seeds" "$seeds"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	mapfile -t targets < <(cd "$build/tests/fuzz" && ls fuzz-* 2>/dev/null)
fi
for t in "${targets[@]}"; do
	name=${t#fuzz-}
	kept=$top/tests/fuzz/corpus/$name
	new=$(mktemp -d "$build/merge.XXXXXX")
	# cli-report's hour kept 1,400 inputs, 17 MB, at 64 KiB (98.9 % of its
	# parser lines); at 16 KiB 1,056 inputs, 5 MB (95.6 %): FUZZING.md
	case "$name" in wire | session | cli-vmlinux) max=140000 ;; cli-report) max=16384 ;; *) max=65536 ;; esac
	dirs=()
	# kept inputs over the cap stay whole (the merge would cut them): the
	# hand-made ones that fill a model's bounds
	[ -d "$kept" ] && find "$kept" -type f -size +"$max"c -exec cp {} "$new/" \;
	[ -d "$kept" ] && dirs+=("$kept")
	[ -d "$build/corpus/$t" ] && dirs+=("$build/corpus/$t")
	[ -d "$seeds/$name" ] && dirs+=("$seeds/$name")
	"$build/tests/fuzz/$t" -merge=1 -max_len="$max" "$new" "${dirs[@]}" >"$build/$t.merge.log" 2>&1 ||
		{ tail -20 "$build/$t.merge.log" >&2; exit 1; }
	rm -rf "$kept"
	mkdir -p "$(dirname "$kept")"
	mv "$new" "$kept"
	echo "fuzz_corpus: $name $(ls "$kept" | wc -l) inputs, $(du -sk "$kept" | cut -f1) KiB"
done
