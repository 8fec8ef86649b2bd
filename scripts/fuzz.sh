#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/, ASan and UBSan) and
# runs each for SECONDS (default 60). A run first executes every input of
# the corpus kept in the repository, tests/fuzz/corpus/<name>/ (minimized
# by scripts/fuzz_corpus.sh from long runs, FUZZING.md) and the seeds
# vigil-fuzz-seeds writes (tests/fuzz/seeds/, into build-fuzz/seeds/): a
# replay under the sanitizers. What a run finds goes to
# build-fuzz/corpus/<target>/, kept between runs; the repository's corpus
# is only read.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
build=$top/build-fuzz

CC=clang cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DVIGIL_FUZZ=ON >/dev/null
cmake --build "$build" --target fuzz -j "$(nproc)"

rm -rf "$build/seeds"
"$build/tests/fuzz/vigil-fuzz-seeds" "$build/seeds"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	mapfile -t targets < <(cd "$build/tests/fuzz" && ls fuzz-* 2>/dev/null)
fi
for t in "${targets[@]}"; do
	corpus=$build/corpus/$t
	seeds=$top/tests/fuzz/corpus/${t#fuzz-}
	mkdir -p "$corpus"
	dirs=("$corpus")
	[ -d "$seeds" ] && dirs+=("$seeds")
	[ -d "$build/seeds/${t#fuzz-}" ] && dirs+=("$build/seeds/${t#fuzz-}")
	echo "fuzz: $t for ${secs}s"
	"$build/tests/fuzz/$t" -max_total_time="$secs" -max_len=140000 -print_final_stats=1 \
		-artifact_prefix="$build/" "${dirs[@]}" 2>"$build/$t.log" || {
		tail -40 "$build/$t.log" >&2
		echo "fuzz: $t found a crash; the input is in $build/" >&2
		exit 1
	}
	grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$build/$t.log" | sed "s/^/fuzz: $t /"
	grep -m1 -E 'INITED' "$build/$t.log" | sed "s/^/fuzz: $t replayed the corpus: /"
done
