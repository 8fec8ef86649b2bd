#!/bin/sh
# The report in a real browser: renders the deterministic recording of
# report-demo with `vigil report`, checks that the page is well-formed
# (xmllint, as XML and as HTML), then has headless Chromium load it and
# checks its DOM (the process lanes, the stall of pid 102 with its pid, the
# verdict, the escaped scenario name) and takes a screenshot, kept in
# OUTDIR (the build directory) as the CI's artifact.
# usage: report_browser.sh VIGIL REPORT_DEMO OUTDIR; exits 77 (skipped)
# without chromium or xmllint.
set -eu
vigil=$1 demo=$2 out=$3

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ] || ! command -v xmllint >/dev/null; then
	echo "SKIP: the browser test needs chromium and xmllint" \
		"(apt-get install --no-install-recommends chromium libxml2-utils)"
	exit 77
fi
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

rm -rf "$out"
mkdir -p "$out"
"$demo" "$out/demo.rec"
"$vigil" report -o "$out/report.html" "$out/demo.rec" || fail "vigil report exited $?"

# well-formed: as XML (every element closed, every entity known), and
# libxml2's HTML parser finds no error but the HTML5 elements it does not know
xmllint --noout "$out/report.html" || fail "the page is not well-formed XML"
xmllint --html --noout "$out/report.html" 2>"$out/xmllint.txt" || true
if grep 'parser error' "$out/xmllint.txt" | grep -qv 'Tag [a-zA-Z]* invalid'; then
	cat "$out/xmllint.txt" >&2
	fail "xmllint --html found errors"
fi

browse() {
	timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--user-data-dir="$out/profile" --window-size=1280,1000 "$@" \
		"file://$out/report.html" 2>>"$out/chromium.log"
}
browse --dump-dom >"$out/dom.html" || fail "chromium could not load the page ($out/chromium.log)"
dom=$out/dom.html
lanes=$(grep -o '<g class="lane[^"]*" data-pid="[0-9]*"' "$dom" | wc -l)
[ "$lanes" = 3 ] || fail "$lanes process lanes in the DOM, want 3"
grep -q '<g class="lane stalled" data-pid="102"' "$dom" || fail "pid 102's lane is not first and stalled"
grep -q 'class="stall" data-pid="102"' "$dom" || fail "no stall marker with pid 102"
grep -q 'pid 102 stopped beating at 2.900 s' "$dom" || fail "the stall's hover text is missing"
grep -q 'id="outcome">WORKLOAD_FAILED<' "$dom" || fail "the verdict is not in the header"
grep -q 'id="exit-code">1<' "$dom" || fail "the exit code is not in the header"
grep -q 'class="vm-stopped"' "$dom" || fail "the VM stop is not shaded"
grep -q 'class="pause"' "$dom" || fail "the scenario's pause is not drawn"
grep -q 'load &lt;script&gt;alert(1)&lt;/script&gt;' "$dom" || fail "the scenario's name is not escaped text"
if grep -q '<script>alert\|<b>bold</b>\|<i>host</i>' "$dom"; then
	fail "guest markup reached the DOM"
fi

browse --screenshot="$out/report.png" >/dev/null || fail "no screenshot ($out/chromium.log)"
[ "$(wc -c <"$out/report.png")" -gt 10000 ] || fail "the screenshot is empty"
echo "ok: $out/report.html ($(wc -c <"$out/report.html") bytes), screenshot $out/report.png"
