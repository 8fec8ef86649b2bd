#!/usr/bin/env bash
# Sets up and builds vigil, then boots a demo guest under QEMU and watches
# it: one scenario with three beating processes (one is stopped for 1.5 s,
# stalls and recovers), a pause, a TCP connection, a test result, output,
# a verdict and a page with the run's timeline (report.html). Run it again
# at any time; the image is cached.
#   scripts/demo.sh [extra `vigil run` options, e.g. --machine pc]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_BUILD_DIR:-$top/build}

"$top/scripts/setup.sh"
"$top/scripts/build.sh" >/dev/null
vigil=$build/host/cli/vigil
export VIGIL_AGENT=${VIGIL_AGENT:-$build/guest/vigil-agent}
out=${VIGIL_DEMO_DIR:-$build/demo}
mkdir -p "$out"

echo "demo: vigil run, events in $out/events.jsonl, verdict in $out/verdict.json," \
	"the run's page in $out/report.html"
set +e
# --rootfs image: the demo's guest uses busybox's nc and ip, whatever the host has
"$vigil" run --rootfs image --scenario demo --stall-threshold 1s \
	--events "$out/events.jsonl" --verdict "$out/verdict.json" --junit "$out/junit.xml" \
	--report "$out/report.html" \
	"$@" -- sh -c '
	vigil-agent beat --every 100 & A=$!
	vigil-agent beat --every 100 & B=$!
	vigil-agent beat --every 100 & C=$!
	echo "guest: three processes beat every 100 ms: $A $B $C"
	sleep 1
	echo "guest: stopping $B for 1.5 s"
	kill -STOP $B; sleep 1.5; kill -CONT $B
	echo "guest: pausing the scenario for 0.5 s"
	vigil-agent emit scenario-pause demo; sleep 0.5; vigil-agent emit scenario-resume demo
	echo "guest: a TCP connection to 127.0.0.1:8080"
	ip link set lo up
	sleep 3 | nc -l -p 8080 >/dev/null &
	sleep 0.3; (echo hello; sleep 1.5) | nc 127.0.0.1 8080
	vigil-agent emit result --duration 1800ms demo-connect pass "connected and talked"
	kill $A $B $C; wait
	echo "guest: done"'
status=$?
set -e
echo "demo: vigil exited $status; the verdict:"
sed -n '1,12p' "$out/verdict.json"
echo "  ... (the whole verdict: $out/verdict.json; the timeline: open $out/report.html)"
exit "$status"
