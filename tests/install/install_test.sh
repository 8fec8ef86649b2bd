#!/usr/bin/env bash
# The installed tree as an embedder sees it (docs/embedding.md, docs/abi.md).
# ctest runs one step a test (tests/install/CMakeLists.txt):
#   tree      cmake --install BUILD into WORK/prefix (the fixture the others need)
#   symbols   the archives define only vigil_* names; the shared libraries
#             export exactly their version script's names, versioned;
#             every VIGIL_API definition is in the script and an installed
#             header; wire and the .pc Cflags carry no json-c
#   examples  docs/embedding.md's examples built with pkg-config (make) and
#             find_package (cmake), C and C++, shared and static, then run:
#             each verdict and exit code checked; VIGIL_STR refuses a
#             pointer at compile time; a program defining the library's
#             internal names links with the installed archives
#   docs      docs/embedding.md shows tests/install/example/* verbatim
# Usage: install_test.sh STEP SRC BUILD WORK [CC]
# Load: a few seconds a step; `examples` builds 16 small programs.
set -euo pipefail
step=$1 cc=${5:-cc}
src=$(realpath -m "$2") build=$(realpath -m "$3") work=$(realpath -m "$4")
prefix=$work/prefix
strict="-O2 -Wall -Wextra -Wconversion -pedantic -Werror"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig

fail() {
	echo "install_test: $*" >&2
	exit 1
}

step_tree() {
	rm -rf "$prefix"
	cmake --install "$build" --prefix "$prefix" >/dev/null ||
		fail "cmake --install $build failed (build the tree first)"
	for f in lib/libvigil-wire.a lib/libvigil-host.a lib/libvigil-agent.a \
		lib/libvigil-wire.so.0 lib/libvigil-host.so.0 lib/libvigil-agent.so.0 \
		lib/pkgconfig/vigil-wire.pc lib/pkgconfig/vigil-host.pc lib/pkgconfig/vigil-agent.pc \
		lib/cmake/vigil/vigil-config.cmake include/vigil/version.h share/doc/vigil/LICENSE \
		bin/vigil libexec/vigil/vigil-fleet libexec/vigil/vigil-agent; do
		[ -e "$prefix/$f" ] || fail "$f is not installed"
	done
	# watch and status run the installed vigil-fleet, found from bin/vigil
	"$prefix/bin/vigil" status --help | grep -q '^usage: vigil status' ||
		fail "bin/vigil status does not reach libexec/vigil/vigil-fleet"
	# the other commands load none of the fleet's libraries
	! ldd "$prefix/bin/vigil" | grep -qE 'libvirt|libcurl|libmicrohttpd|libxml2|libsystemd' ||
		fail "bin/vigil links the fleet's libraries"
}

# The global names of a version script, sorted.
map_names() {
	sed 's|/\*.*\*/||; /\/\*/,/\*\//d' "$1" | grep -oE '^[[:space:]]+vigil_[a-z0-9_]+;' |
		tr -d ' \t;' | LC_ALL=C sort
}

check_archive() { # lib.a
	local bad n
	bad=$(nm -g --defined-only "$1" | awk 'NF == 3 && $3 !~ /^vigil_/ { print $3 }')
	[ -z "$bad" ] || fail "$1 defines names outside vigil_ (make them static or hidden):" $bad
	n=$(nm -g --defined-only "$1" | awk 'NF == 3' | wc -l)
	[ "$n" -gt 0 ] || fail "$1 defines no vigil_ names at all"
	echo "ok: $(basename "$1"): $n external names, all vigil_*"
}

check_shared() { # lib.so map internal.a
	local so=$1 map=$2 internal=$3 bad got api name
	bad=$(nm -D --defined-only "$so" | awk '
		$2 == "A" && $3 ~ /^VIGIL_[0-9]+\.[0-9]+$/ { next }
		$3 !~ /^vigil_[a-z0-9_]+@@?VIGIL_[0-9]+\.[0-9]+$/ { print $3 }')
	[ -z "$bad" ] || fail "$so exports names that are not vigil_*@VIGIL_x.y:" $bad
	got=$(nm -D --defined-only "$so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' |
		LC_ALL=C sort)
	diff -u <(map_names "$map") <(echo "$got") >&2 ||
		fail "$so does not export exactly the names of $map"
	# VIGIL_API definitions: global, default visibility, in the objects.
	api=$(readelf -sW "$internal" | awk '$5 == "GLOBAL" && $6 == "DEFAULT" && $7 != "UND" {
		print $8 }' | LC_ALL=C sort -u)
	diff -u <(map_names "$map") <(echo "$api") >&2 ||
		fail "$map and the VIGIL_API definitions differ: a new function goes in the" \
			"version script (the current release's node, docs/abi.md), a removed one out"
	name=$(LC_ALL=C comm -23 <(echo "$api") <(grep -ohwF -f <(echo "$api") "$prefix"/include/vigil/*.h |
		LC_ALL=C sort -u))
	[ -z "$name" ] || fail "in no installed header:" $name
	echo "ok: $(basename "$so"): $(echo "$got" | wc -l) names, all in $(basename "$map")"
}

step_symbols() {
	local l
	for l in wire host agent; do
		check_archive "$prefix/lib/libvigil-$l.a"
	done
	check_shared "$prefix/lib/libvigil-wire.so" "$src/wire/libvigil-wire.map" \
		"$build/wire/libvigil-wire-internal.a"
	check_shared "$prefix/lib/libvigil-host.so" "$src/host/lib/libvigil-host.map" \
		"$build/host/lib/libvigil-host-internal.a"
	check_shared "$prefix/lib/libvigil-agent.so" "$src/guest/libvigil-agent.map" \
		"$build/guest/libvigil-agent-internal.a"
	! readelf -d "$prefix/lib/libvigil-wire.so" | grep -q json-c ||
		fail "libvigil-wire.so needs json-c"
	! pkg-config --static --cflags --libs vigil-wire | grep -q json ||
		fail "vigil-wire.pc pulls json-c"
	l=$(pkg-config --cflags vigil-host)
	[ "${l% }" = "-I$prefix/include" ] || fail "vigil-host.pc Cflags are '$l', not just -I$prefix/include"
	pkg-config --static --libs vigil-host | grep -q -- -ljson-c ||
		fail "vigil-host.pc does not give -ljson-c for a static link"
	echo "ok: json-c stays out of wire and out of vigil-host's Cflags"
}

# run DIR PROGRAM ARG EXPECTED_STATUS EXPECTED_LINE...
run() {
	local dir=$1 prog=$2 arg=$3 want=$4 out st=0 line
	shift 4
	out=$(cd "$work" && timeout 20 "$dir/$prog" $arg 2>&1) || st=$?
	[ "$st" = "$want" ] || fail "$dir/$prog $arg exited $st, not $want:"$'\n'"$out"
	for line in "$@"; do
		grep -qxF -- "$line" <<<"$out" || fail "$dir/$prog $arg did not print '$line':"$'\n'"$out"
	done
	case $prog in
	*_static) ! readelf -d "$dir/$prog" 2>/dev/null | grep -q 'NEEDED.*libvigil' ||
		fail "$dir/$prog loads a vigil shared library" ;;
	*) readelf -d "$dir/$prog" | grep -q 'NEEDED.*libvigil-' ||
		fail "$dir/$prog does not load vigil's shared libraries" ;;
	esac
	echo "ok: $dir/$prog $arg -> $st"
}

run_examples() { # DIR
	local d=$1 k
	for k in "" _static; do
		run "$d" "consumer$k" pass 0 "verdict: PASS, exit code 0"
		run "$d" "consumer$k" stall 121 "primary: PROCESS_STALL pid 42" \
			"verdict: PROCESS_STALL, exit code 121"
		run "$d" "consumer$k" sched-exit 120 "verdict: SCHED_EXIT, exit code 120"
		run "$d" "consumer++$k" "" 3 "tests passed: 1" "verdict: WORKLOAD_FAILED, exit code 3"
		run "$d" "wire_user$k" "" 0 "frame: SYS_RDY seq 1, 0 payload bytes, valid"
		run "$d" "agent_user$k" "" 0 "drops: 0"
	done
	! readelf -d "$d/wire_user" | grep -q json-c || fail "$d/wire_user loads json-c"
}

# The installed headers alone, as C11 and C++11 (docs/embedding.md says so).
check_headers() {
	local f=$work/headers.c
	printf '#include <vigil/wire.h>\n#include <vigil/session.h>\n#include <vigil/agent.h>\n' >"$f"
	printf 'int main(void) { return VIGIL_STR("x").len + (int)VIGIL_VERSION_NUMBER; }\n' >>"$f"
	"$cc" -std=c11 -pedantic -Wall -Wextra -Wconversion -Werror -I"$prefix/include" \
		-x c -c "$f" -o /dev/null || fail "the installed headers are not clean C11"
	for cxx in c++ clang++; do
		command -v "$cxx" >/dev/null || continue
		"$cxx" -std=c++11 -pedantic -Wall -Wextra -Wconversion -Werror -I"$prefix/include" \
			-x c++ -c "$f" -o /dev/null || fail "the installed headers are not clean C++11 ($cxx)"
	done
	echo "ok: the installed headers compile as C11 and C++11 (g++, clang++), -pedantic -Wconversion"
}

# VIGIL_STR takes literals: a pointer or an array must not compile.
check_vigil_str() {
	local lang arg f
	for lang in c c++; do
		for arg in '"literal"' p a; do
			f=$work/str.$lang
			printf '#include <vigil/wire.h>\nconst char *p = "x";\nchar a[] = "x";\n%s\n' \
				"uint16_t f(void); uint16_t f(void) { return VIGIL_STR($arg).len; }" >"$f"
			if [ $lang = c ]; then
				set -- "$cc" -std=c11 -x c
			else
				set -- c++ -std=c++17 -x c++
			fi
			if "$@" -pedantic -Werror -I"$prefix/include" -c "$f" -o /dev/null 2>/dev/null; then
				[ "$arg" = '"literal"' ] || fail "VIGIL_STR($arg) compiled in $lang"
			else
				[ "$arg" != '"literal"' ] || fail "VIGIL_STR(\"literal\") did not compile in $lang"
			fi
		done
	done
	echo "ok: VIGIL_STR refuses a pointer and an array, in C and C++"
}

# A program defining the library's internal names links with the installed
# archives, and fails with the build tree's unlocalized ones.
check_collide() {
	local h=$build/host/lib w=$build/wire
	"$cc" -std=c11 $strict -static $(pkg-config --cflags vigil-host) -o "$work/collide" \
		"$src/tests/install/collide.c" $(pkg-config --static --libs vigil-host) ||
		fail "a program defining flows_new, trk_new, ... does not link with the installed archives"
	"$work/collide" | grep -q '^collide: .* own names 1 2 3 4, crc32c("123456789") e3069283$' ||
		fail "collide did not run with its own names"
	"$cc" -std=c11 -static $(pkg-config --cflags vigil-host) -o "$work/collide-internal" \
		"$src/tests/install/collide.c" "$h/libvigil-host-internal.a" \
		"$w/libvigil-wire-internal.a" -ljson-c >"$work/collide-internal.log" 2>&1 || true
	grep -q 'multiple definition of .flows_new' "$work/collide-internal.log" ||
		fail "collide did not clash with the internal archives: it checks nothing"
	echo "ok: a program's own flows_new, trk_new, ses_emit, crc32c_raw_sw link with the archives"
}

step_examples() {
	local ex=$src/tests/install/example
	rm -rf "$work/make" "$work/cmake"
	mkdir -p "$work"
	cp -r "$ex" "$work/make"
	make -s -C "$work/make" -j2 CC="$cc" CFLAGS="$strict" CXXFLAGS="$strict" \
		LDFLAGS="-Wl,-rpath,$prefix/lib" || fail "the examples do not build with pkg-config"
	run_examples "$work/make"
	cmake -S "$ex" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
		-DCMAKE_C_FLAGS="$strict" -DCMAKE_CXX_FLAGS="$strict" >/dev/null ||
		fail "the examples' find_package(vigil) failed"
	cmake --build "$work/cmake" -j 2 >/dev/null || fail "the examples do not build with find_package"
	run_examples "$work/cmake"
	check_headers
	check_vigil_str
	check_collide
}

step_docs() {
	local doc=$src/docs/embedding.md ex=$src/tests/install/example f shown
	shown=$(grep -oE '^<!-- file: tests/install/example/[^ ]+ -->$' "$doc" |
		sed 's|.*/example/||; s| -->||' | LC_ALL=C sort)
	diff -u <(cd "$ex" && ls | LC_ALL=C sort) <(echo "$shown") >&2 ||
		fail "docs/embedding.md must show every file of tests/install/example, once"
	for f in $shown; do
		awk -v m="<!-- file: tests/install/example/$f -->" '
			$0 == m { want = 1; next }
			want == 1 && /^```/ { want = 2; next }
			want == 2 && /^```$/ { exit }
			want == 2 { print }' "$doc" | diff -u "$ex/$f" - >&2 ||
			fail "docs/embedding.md shows $f other than tests/install/example/$f"
	done
	echo "ok: docs/embedding.md shows the examples verbatim:" $shown
}

case $step in
tree | symbols | examples | docs) "step_$step" ;;
*) fail "unknown step $step (tree, symbols, examples, docs)" ;;
esac
