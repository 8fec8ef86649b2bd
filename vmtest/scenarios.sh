#!/bin/sh
# SPDX-License-Identifier: MIT
#
# vigil VM scenarios: each boots the guest kernel under TCG with the agent as
# init and checks the verdict, the events and the exit status of `vigil run`.
#
#   scenarios.sh NAME      run one scenario (ctest runs each as vm_NAME)
#
# Environment: VIGIL (the vigil binary), VIGIL_AGENT (the static agent),
# VIGIL_KERNEL (optional), VM_APPEND (optional: more kernel parameters for
# every `vigil run`, e.g. vigil.pipe_size=1048576 to run a scenario with
# other agent settings). Exit 0 pass, 1 fail, 77 skipped (no kernel/QEMU).
set -u

VIGIL=${VIGIL:?set VIGIL to the vigil binary}
export VIGIL_AGENT=${VIGIL_AGENT:?set VIGIL_AGENT to the static agent}
NAME=${1:?usage: scenarios.sh NAME}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/vigil-vmtest.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

command -v qemu-system-x86_64 >/dev/null || { echo "skip: no qemu-system-x86_64"; exit 77; }
if [ -z "${VIGIL_KERNEL:-}" ] && ! ls /boot/vmlinuz-* >/dev/null 2>&1; then
	echo "skip: no guest kernel (/boot/vmlinuz-* or VIGIL_KERNEL)"
	exit 77
fi

fail() {
	echo "FAIL $NAME: $*"
	for f in verdict.json events.jsonl console.txt err.txt; do
		[ -f "$f" ] && { echo "--- $f (tail)"; tail -n 30 "$f" | cut -c1-300; }
	done
	exit 1
}

# run_vigil EXPECTED_STATUS [vigil run options...] -- COMMAND...
run_vigil() {
	want=$1
	shift
	ev="--events events.jsonl"
	[ "${NO_EVENTS:-}" = 1 ] && ev=""
	q=-q
	[ "${LOUD:-}" = 1 ] && q="" # the summary on err.txt
	"$VIGIL" run --accel tcg $q --verdict verdict.json $ev \
		--console console.txt ${VM_APPEND:+--append "$VM_APPEND"} "$@" >out.txt 2>err.txt
	got=$?
	[ "$got" = "$want" ] || fail "exit status $got, want $want"
}

# The QEMU child of a vigil process (from /proc: no procps needed): its
# children list where the kernel has one, else a scan of every process.
qemu_child() {
	for p in $(cat /proc/"$VPARENT"/task/*/children 2>/dev/null); do
		case "$(cat /proc/$p/comm 2>/dev/null)" in qemu-system*) echo "$p"; return 0 ;; esac
	done
	[ -e /proc/"$VPARENT"/task/"$VPARENT"/children ] && return 1
	for st in /proc/[0-9]*/stat; do
		f=$(sed 's/.*) //' "$st" 2>/dev/null) || continue
		set -- $f # $1 state, $2 ppid
		[ "$2" = "$VPARENT" ] || continue
		p=${st#/proc/}
		p=${p%/stat}
		case "$(cat /proc/$p/comm 2>/dev/null)" in qemu-system*) echo "$p"; return 0 ;; esac
	done
	return 1
}

# --on-stall debug: wait until vigil ($vp, its stderr in err.txt) holds
# the VM; end_hold WANT ends the hold with SIGINT and checks vigil's status.
wait_hold() {
	for i in $(seq 600); do
		grep -q "target remote" err.txt && return 0
		kill -0 $vp 2>/dev/null || fail "vigil ended without holding: $(tail -3 err.txt)"
		sleep 0.1
	done
	kill $vp
	fail "no hold after 60 s"
}
end_hold() {
	kill -INT $vp
	wait $vp
	got=$?
	[ "$got" = "$1" ] || fail "exit status $got, want $1"
}

outcome_is() {
	grep -q "^  \"outcome\": \"$1\"" verdict.json || fail "outcome is not $1"
}

# the pid the workload printed ("pid N") stalled, and its class is $1 in
# the events and the verdict
classified_is() {
	pid=$(sed -n 's/^pid \([0-9]*\)$/\1/p' out.txt | head -1)
	[ -n "$pid" ] || fail "no pid from the guest"
	outcome_is PROCESS_STALL
	grep '"event":"stall_classified"' events.jsonl | grep "\"pid\":$pid," |
		grep -q "\"class\":\"$1\"" || fail "no stall_classified $1 event for $pid"
	grep -q "\"class\": \"$1\"" verdict.json || fail "the verdict's class is not $1"
}

# field of the first event of a type: event_field stall pid
event_count() {
	grep -c "\"event\":\"$1\"" events.jsonl
}

case "$NAME" in
exit0)
	run_vigil 0 -- true
	outcome_is PASS
	grep -q '"status": 0' verdict.json || fail "no workload exit status 0"
	;;
exit3)
	run_vigil 3 -- sh -c 'echo out; echo err >&2; exit 3'
	outcome_is WORKLOAD_FAILED
	grep -q '"status": 3' verdict.json || fail "exit status 3 not in the verdict"
	[ "$(cat out.txt)" = out ] || fail "stdout not echoed"
	grep -q '^err$' err.txt || fail "stderr not echoed"
	;;
stdout20m)
	# the guest hashes what it writes; the host hashes what it got, while
	# it also renders every chunk into the events file (random bytes: the
	# slowest text to escape)
	run_vigil 0 --memory 512M -- sh -c \
		'head -c 20971520 /dev/urandom >/tmp/f && md5sum </tmp/f >&2 && cat /tmp/f'
	want=$(grep -o '^[0-9a-f]\{32\}' err.txt | head -1)
	got=$(md5sum <out.txt | cut -c1-32)
	size=$(wc -c <out.txt)
	[ "$size" = 20971520 ] || fail "got $size bytes of stdout, want 20971520"
	[ -n "$want" ] && [ "$want" = "$got" ] || fail "stdout hash $got, guest wrote $want"
	[ "$(grep -c '"event":"output","t_ns":[0-9]*,"mono_ns":[0-9]*,"stream":"stdout"' \
		events.jsonl)" -ge 320 ] || fail "fewer stdout events than 64 KiB chunks"
	tail -n 1 events.jsonl | grep -q '"event":"run_end","t_ns":[0-9]*,"mono_ns":[0-9]*,"outcome":"PASS"' ||
		fail "the events file does not end with a PASS run_end"
	;;
stall)
	run_vigil 0 --stall-threshold 1s -- sh -c '
		vigil-agent beat --every 100 & A=$!
		vigil-agent beat --every 100 & B=$!
		vigil-agent beat --every 100 & C=$!
		echo "stopped $B"
		sleep 1; kill -STOP $B; sleep 2; kill -CONT $B; sleep 1
		kill $A $B $C; wait; exit 0'
	pid=$(sed -n 's/^stopped //p' out.txt)
	[ -n "$pid" ] || fail "no pid from the guest"
	[ "$(event_count stall)" -ge 1 ] || fail "no stall event"
	if grep '"event":"stall"' events.jsonl | grep -v "\"pid\":$pid," | grep -q .; then
		fail "a process other than $pid stalled"
	fi
	grep '"event":"recovery"' events.jsonl | grep -q "\"pid\":$pid," ||
		fail "no recovery of $pid"
	grep '"event":"stall"' events.jsonl | grep -q '"host_starved":true' &&
		fail "a guest stall was blamed on the host"
	outcome_is PASS
	# the stall is a finding (not fatal under --on-stall warn) that recovered
	grep -q '"outcome": "PROCESS_STALL"' verdict.json || fail "the stall is not a finding"
	grep -q '"fatal": false' verdict.json || fail "the stall finding is marked fatal"
	grep -q '"recovered": true' verdict.json || fail "the recovery is not in the finding"
	;;
report_stall)
	# the page of a run with a stall and its recovery (docs/report.md): the
	# stopped pid's lane, first and red, with its pid, its recovery, the
	# verdict; guest strings (scenario, output, a test's name) as text; the
	# page loaded in Chromium when it is there, its screenshot kept in
	# $VIGIL_ARTIFACTS
	run_vigil 0 --stall-threshold 1s --report r.html \
		--scenario 'load <script>alert(1)</script>' -- sh -c '
		vigil-agent beat --every 100 & A=$!
		vigil-agent beat --every 100 --deadline 300ms & B=$!
		echo "stopped $B <script>out</script>"
		sleep 1; kill -STOP $B; sleep 1.5; kill -CONT $B; sleep 0.5
		vigil-agent emit result "<script>t</script>" pass
		kill $A $B; wait; exit 0'
	pid=$(sed -n 's/^stopped \([0-9]*\) .*/\1/p' out.txt)
	[ -n "$pid" ] || fail "no pid from the guest"
	[ -s r.html ] || fail "no report"
	grep -q "<g class=\"lane stalled\" data-pid=\"$pid\"" r.html || fail "pid $pid has no stalled lane"
	[ "$(grep -o '<g class="lane[^"]*" data-pid=' r.html | head -1)" = '<g class="lane stalled" data-pid=' ] ||
		fail "the stalled lane is not the first"
	grep -q "class=\"stall\" data-pid=\"$pid\"" r.html || fail "no stall marker for pid $pid"
	grep -q "pid $pid beat again (recovery)" r.html || fail "no recovery of $pid on the page"
	grep -q 'id="outcome">PASS<' r.html || fail "the verdict is not on the page"
	grep -q '&lt;script&gt;out&lt;/script&gt;' r.html || fail "the output is not on the page"
	grep -q '<script>alert\|<script>out\|<script>t<' r.html && fail "guest markup on the page"
	if command -v xmllint >/dev/null; then
		xmllint --noout r.html || fail "the page is not well-formed"
	fi
	if command -v chromium >/dev/null; then
		chromium --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/profile" \
			--dump-dom "file://$WORK/r.html" >dom.html 2>/dev/null ||
			fail "chromium could not load the page"
		grep -q "class=\"stall\" data-pid=\"$pid\"" dom.html || fail "no stall marker in the DOM"
		chromium --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/profile" \
			--hide-scrollbars --window-size=1280,900 --screenshot="$WORK/r.png" \
			"file://$WORK/r.html" >/dev/null 2>&1 || fail "no screenshot"
		if [ -n "${VIGIL_ARTIFACTS:-}" ]; then
			mkdir -p "$VIGIL_ARTIFACTS" && cp r.html r.png "$VIGIL_ARTIFACTS/" &&
				echo "report_stall: $VIGIL_ARTIFACTS/r.html, r.png"
		fi
	else
		echo "note: no chromium here: the page was checked as text only"
	fi
	;;
missing_program)
	# a program the image does not carry, inside a scenario: never a PASS
	LOUD=1
	run_vigil 123 --rootfs image --scenario load -- sh -c './my-test'
	outcome_is WORKLOAD_FAILED
	grep -q '"status": 127' verdict.json || fail "exit status 127 not in the verdict"
	grep -q -- '--exe' err.txt || fail "no hint on how to carry the program"
	grep -q '"hints": \[' verdict.json && grep -q -- '--exe' verdict.json ||
		fail "no hint in the verdict"
	[ "$(grep '"event":"scenario"' events.jsonl | grep -c '"name":"load"')" -ge 2 ] ||
		fail "the scenario did not start and end around the command"
	;;
tmp_binary)
	# a host program under /tmp (this test's own directory) runs in the guest
	mkdir -p "$WORK/bin"
	cp "$(command -v basename)" "$WORK/bin/hello"
	run_vigil 0 -- "$WORK/bin/hello" /a/b/greeting
	[ "$(cat out.txt)" = greeting ] || fail "got '$(cat out.txt)' from the /tmp program"
	;;
argv_words)
	# 33 and 1000 words, with spaces, quotes, backslashes, newlines, empty
	# words and UTF-8, arrive byte-exact
	set -- a 'b c' '"q"' "it's" 'back\slash' "$(printf 'new\nline')" '' 'ü€' '$HOME' '*'
	i=0
	while [ $# -lt 33 ]; do i=$((i + 1)); set -- "$@" "w$i"; done
	run_vigil 0 -- printf '[%s]\n' "$@"
	printf '[%s]\n' "$@" >want.txt
	cmp -s out.txt want.txt || fail "33 words did not arrive exact"
	while [ $# -lt 1000 ]; do i=$((i + 1)); set -- "$@" "word-$i"; done
	run_vigil 0 -- printf '[%s]\n' "$@"
	printf '[%s]\n' "$@" >want.txt
	cmp -s out.txt want.txt || fail "1000 words did not arrive exact"
	;;
watchdog_noscenario)
	# --workload-duration bounds the workload even without scenarios
	run_vigil 124 --workload-duration 2s -- sleep 8
	outcome_is WATCHDOG_TIMEOUT
	rdy=$(grep '"event":"ready"' events.jsonl | sed 's/.*"t_ns":\([0-9]*\).*/\1/')
	wd=$(grep '"event":"finding"' events.jsonl | grep WATCHDOG_TIMEOUT |
		sed 's/.*"t_ns":\([0-9]*\).*/\1/' | head -1)
	[ -n "$rdy" ] && [ -n "$wd" ] || fail "no ready or watchdog event"
	d=$(((wd - rdy) / 1000000))
	[ "$d" -ge 2000 ] && [ "$d" -le 2500 ] || fail "watchdog fired ${d} ms after ready, want 2000"
	;;
threshold_rule)
	# the host's --stall-threshold applies unless a process declares its own
	# deadline: A (no --deadline, silent 2 s < 3 s) must not stall; B
	# (--deadline 1s, silent 2 s) must
	run_vigil 0 --stall-threshold 3s -- sh -c '
		vigil-agent beat --every 500ms & A=$!
		vigil-agent beat --every 200ms --deadline 1s & B=$!
		echo "A $A B $B"
		sleep 1; kill -STOP $A $B; sleep 2; kill -CONT $A $B; sleep 0.5
		kill $A $B; wait; exit 0'
	a=$(sed -n 's/^A \([0-9]*\) B.*/\1/p' out.txt)
	b=$(sed -n 's/^A [0-9]* B \([0-9]*\)/\1/p' out.txt)
	[ -n "$a" ] && [ -n "$b" ] || fail "no pids from the guest"
	grep '"event":"stall"' events.jsonl | grep -q "\"pid\":$a," &&
		fail "process $a stalled before the 3 s threshold"
	grep '"event":"stall"' events.jsonl | grep -q "\"pid\":$b," ||
		fail "process $b, with its own 1 s deadline, did not stall"
	outcome_is PASS
	;;
env_scenario)
	export FOO_FROM_HOST=host-value
	run_vigil 0 --env FOO=bar --env FOO_FROM_HOST --scenario s1 \
		-- sh -c 'echo "$FOO $FOO_FROM_HOST"; exit 0'
	[ "$(cat out.txt)" = "bar host-value" ] || fail "environment not passed: $(cat out.txt)"
	[ "$(grep '"event":"scenario"' events.jsonl | grep -c '"name":"s1"')" = 2 ] ||
		fail "scenario s1 did not start and end"
	grep -q '"FOO_FROM_HOST"' verdict.json || fail "the provenance lacks --env names"
	grep -q 'host-value' verdict.json && fail "the provenance holds an --env value"
	grep -q '"sha256": "[0-9a-f]\{64\}"' verdict.json || fail "no kernel hash in the provenance"
	grep -q '"version": "[0-9]' verdict.json || fail "no QEMU version in the provenance"
	;;
oom)
	# the kernel OOM-kills sort; the script goes on and passes: a finding,
	# not fatal; with --fail-on oom the run fails with 126
	work='head -c 300000000 /dev/zero | tr "\0" a | sort >/dev/null; echo after'
	LOUD=1
	run_vigil 0 --memory 128M -- sh -c "$work"
	outcome_is PASS
	grep -q '"outcome": "KERNEL_TROUBLE"' verdict.json || fail "the OOM kill is not a finding"
	grep -q 'Killed process' verdict.json || fail "no OOM evidence line"
	grep -qi 'oom kill' err.txt || fail "the summary does not mention the OOM kill"
	run_vigil 126 --memory 128M --fail-on oom -- sh -c "$work"
	outcome_is KERNEL_TROUBLE
	;;
kmsg_warning)
	# a WARNING below the console's loglevel is found in the DMESG stream
	# (written to /dev/kmsg here: the cloud kernel has no lkdtm to provoke one)
	run_vigil 0 -- sh -c 'echo "<4>WARNING: CPU: 0 PID: 1 at kernel/fake.c:1 fake+0x0/0x10" \
		>/dev/kmsg; sleep 0.5; exit 0'
	grep -q '"outcome": "KERNEL_TROUBLE"' verdict.json || fail "the WARNING is not a finding"
	grep -q 'kernel/fake.c' verdict.json || fail "no WARNING evidence line"
	;;
slow_reader)
	# a reader of vigil's stdout that stops for 3 s: vigil pauses reading
	# the port (never the loop), the agent holds the workload, nothing is
	# lost, and the pause is not the guest's silence (no stall)
	"$VIGIL" run --accel tcg -q --verdict verdict.json --stall-threshold 1s -- sh -c \
		'vigil-agent beat --every 100 & head -c 12000000 /dev/zero; kill $!; exit 0' |
		(dd bs=1 count=1 status=none >/dev/null; sleep 3; wc -c >got.txt)
	# the reader stops once output has begun, however long the boot took
	[ "$(cat got.txt)" = 11999999 ] || fail "got $(cat got.txt) + 1 bytes of stdout, want 12000000"
	outcome_is PASS
	grep -q '"stalls": 0' verdict.json || fail "vigil's own pause was taken for a stall"
	grep -q '"host_read_pauses": [1-9]' verdict.json || fail "the read pause is not counted"
	;;
slow_reader_exit)
	# the workload ends while vigil's reader has stopped for 5 s (longer
	# than the agent's drain_ms and ack_ms): its last output and EXIT wait
	# in the guest and QEMU until vigil reads again, and nothing is lost
	"$VIGIL" run --accel tcg -q --verdict verdict.json -- head -c 3000000 /dev/zero |
		(dd bs=1 count=1 status=none >/dev/null; sleep 5; wc -c >got.txt)
	[ "$(cat got.txt)" = 2999999 ] || fail "got $(cat got.txt) + 1 bytes of stdout, want 3000000"
	outcome_is PASS
	;;
usage)
	# no guest: every output checked before boot; values name their option
	"$VIGIL" run --verdict /nonexistent/dir/v.json -- true 2>err.txt
	[ $? = 125 ] && grep -q -- '--verdict /nonexistent/dir/v.json' err.txt ||
		fail "an unwritable --verdict was not refused before boot"
	"$VIGIL" run --events - --verdict - -- true 2>err.txt
	[ $? = 125 ] && grep -q 'standard output' err.txt || fail "two outputs on stdout accepted"
	"$VIGIL" run --timeout abc -- true 2>err.txt
	[ $? = 125 ] && grep -q -- "--timeout" err.txt || fail "a bad duration names another option"
	"$VIGIL" run --timeout 0 -- true 2>err.txt
	[ $? = 125 ] || fail "--timeout 0 accepted"
	head -c 4096 /dev/urandom >rand.bin
	"$VIGIL" decode rand.bin >/dev/null 2>err.txt
	[ $? = 125 ] && grep -q 'no vigil frame' err.txt || fail "decode of random bytes"
	;;
watchdog_pause)
	# 5 s of work inside a 3 s watchdog, 4 s of it paused: passes. The
	# rest (1 s of sleep, four execs of vigil-agent through the host's
	# root, 0.3-0.8 s under load) stays well inside the 3 s
	run_vigil 0 --workload-duration 3s -- sh -c '
		vigil-agent emit scenario-start w; sleep 0.5
		vigil-agent emit scenario-pause w; sleep 4
		vigil-agent emit scenario-resume w; sleep 0.5
		vigil-agent emit scenario-end w'
	outcome_is PASS
	grep -q '"event":"scenario"' events.jsonl || fail "no scenario events"
	;;
watchdog_timeout)
	run_vigil 124 --workload-duration 1s -- sh -c '
		vigil-agent emit scenario-start w; sleep 30'
	outcome_is WATCHDOG_TIMEOUT
	;;
sched_exit)
	run_vigil 120 -- sh -c \
		'vigil-agent emit sched-exit --kind 1024 --code 7 "runqueue stuck"; sleep 30'
	outcome_is SCHED_EXIT
	grep -q 'runqueue stuck' verdict.json || fail "reason not in the verdict"
	grep -q '"kind": 1024' verdict.json || fail "kind not in the verdict"
	# ends within 1 s of the frame
	t1=$(grep '"event":"sched_exit"' events.jsonl | sed 's/.*"t_ns":\([0-9]*\).*/\1/')
	t2=$(grep '"event":"run_end"' events.jsonl | sed 's/.*"t_ns":\([0-9]*\).*/\1/')
	[ -n "$t1" ] && [ -n "$t2" ] && [ $((t2 - t1)) -lt 1000000000 ] ||
		fail "run ended $((t2 - t1)) ns after SCHED_EXIT"
	;;
panic)
	run_vigil 126 -- sh -c 'echo c >/proc/sysrq-trigger'
	outcome_is GUEST_CRASH
	grep -q 'Kernel panic' verdict.json || fail "no panic line in the evidence"
	# the whole report: QEMU reports the panic and lets the kernel write
	# its report out before the guest resets
	grep -q 'Call Trace' verdict.json || fail "no call trace in the evidence"
	grep -q 'sysrq_handle_crash' verdict.json || fail "the call trace ends early"
	;;
boot_timeout)
	# an init that never says it is ready
	printf '#!/bin/sh\nexec sleep 600\n' >init.sh
	chmod +x init.sh
	"$VIGIL" initramfs -q --init "$WORK/init.sh" -o "$WORK/never.cpio" >/dev/null ||
		fail "cannot build the image"
	run_vigil 127 --initrd "$WORK/never.cpio" --boot-timeout 4s -- true
	outcome_is BOOT_TIMEOUT
	;;
snapshot)
	run_vigil 0 --snapshot-dir "$WORK/snaps" -- sh -c \
		'vigil-agent snapshot --kind memory --tag t1 && echo reply-ok'
	grep -q reply-ok out.txt || fail "the guest did not get a successful reply"
	ls "$WORK"/snaps/t1-*.elf >/dev/null 2>&1 || fail "no dump file"
	[ "$(wc -c <"$(ls "$WORK"/snaps/t1-*.elf | head -1)")" -gt 1000000 ] ||
		fail "dump file too small"
	;;
snapshot_bound)
	# a guest asking for more memory dumps than a run allows is refused
	run_vigil 0 --memory 128M --snapshot-dir "$WORK/snaps" -- sh -c \
		'for i in 1 2 3 4 5; do vigil-agent snapshot --kind memory --tag t$i || echo "refused $i"; done; exit 0'
	[ "$(ls "$WORK"/snaps/*.elf | wc -l)" = 4 ] || fail "want 4 dumps, got $(ls "$WORK"/snaps | wc -l)"
	grep -q '^refused 5$' out.txt || fail "the fifth dump was not refused"
	grep -q '"snapshot_refused": 1' verdict.json || fail "the refusal is not counted"
	;;
host_starved)
	"$VIGIL" run --accel tcg -q --verdict verdict.json --events events.jsonl \
		--stall-threshold 1s -- sh -c \
		'vigil-agent beat --every 100 & sleep 9; kill $!; exit 0' >out.txt 2>err.txt &
	vp=$!
	qp=""
	for i in $(seq 50); do
		qp=$(VPARENT=$vp qemu_child)
		[ -n "$qp" ] && grep -q '"event":"process_new"' events.jsonl 2>/dev/null &&
			[ "$(grep -c '"event":"process_new"' events.jsonl)" -ge 2 ] && break
		sleep 0.2
	done
	[ -n "$qp" ] || fail "no QEMU child"
	sleep 0.5
	kill -STOP "$qp"
	sleep 3
	kill -CONT "$qp"
	wait $vp
	got=$?
	grep '"event":"stall"' events.jsonl | grep -q '"host_starved":false' &&
		fail "a stall was blamed on the guest"
	[ "$got" = 0 ] || fail "exit status $got"
	grep -q '"host_starved":true' events.jsonl ||
		grep -q 'HOST_STARVED' verdict.json || fail "no host starvation seen"
	;;
qemu_killed)
	"$VIGIL" run --accel tcg --verdict verdict.json --events events.jsonl \
		-- sh -c 'sleep 60' >out.txt 2>err.txt &
	vp=$!
	for i in $(seq 100); do
		grep -q '"event":"ready"' events.jsonl 2>/dev/null && break
		sleep 0.1
	done
	qp=$(VPARENT=$vp qemu_child)
	[ -n "$qp" ] || fail "no QEMU child"
	start=$(date +%s)
	kill -KILL "$qp"
	wait $vp
	got=$?
	[ $(($(date +%s) - start)) -le 5 ] || fail "vigil took too long to notice"
	[ "$got" = 124 ] || fail "exit status $got, want 124"
	outcome_is QEMU_EXITED
	grep -q '"kind": 9' verdict.json || fail "the signal (SIGKILL) is not in the verdict"
	grep -q 'QEMU_EXITED' err.txt || fail "the summary does not name QEMU's death"
	;;
qemu_killed_output | qemu_killed_snapshot)
	# QEMU SIGKILLed while the guest floods its stdout, or while a memory
	# dump it asked for is being written: QEMU's death (124) within
	# seconds, the output that came before it kept, no hang; a dump cut
	# short is not left as if it were whole
	if [ "$NAME" = qemu_killed_output ]; then
		work='while :; do head -c 65536 /dev/zero | od -v; done'
		mark='"stream":"stdout"'
	else
		work='vigil-agent snapshot --kind memory --tag cut; sleep 60'
		mark='"event":"snapshot_request"'
	fi
	"$VIGIL" run --accel tcg --verdict verdict.json --events events.jsonl \
		--snapshot-dir "$WORK/snaps" -- sh -c "$work" >out.txt 2>err.txt &
	vp=$!
	qp=""
	for i in $(seq 100); do
		qp=$(VPARENT=$vp qemu_child) && break
		sleep 0.05
	done
	[ -n "$qp" ] || { kill $vp; fail "no QEMU child"; }
	for i in $(seq 1200); do
		grep -q "$mark" events.jsonl 2>/dev/null && break
		sleep 0.02
	done
	grep -q "$mark" events.jsonl || { kill $vp; fail "the guest never got there"; }
	[ "$NAME" = qemu_killed_output ] && sleep 0.3
	start=$(date +%s)
	kill -KILL "$qp"
	wait $vp
	got=$?
	[ $(($(date +%s) - start)) -le 5 ] || fail "vigil took too long to notice"
	[ "$got" = 124 ] || fail "exit status $got, want 124"
	outcome_is QEMU_EXITED
	tail -n 1 events.jsonl | grep -q '"event":"run_end"' || fail "the events do not end with run_end"
	if [ "$NAME" = qemu_killed_output ]; then
		[ -s out.txt ] || fail "no output kept from before QEMU died"
	else
		grep -q '"event":"snapshot_done"' events.jsonl ||
			fail "the cut dump has no snapshot_done (its reply)"
		grep '"event":"snapshot_done"' events.jsonl | grep -q '"status":0' &&
			fail "a dump cut by QEMU's death was reported whole"
		for f in "$WORK"/snaps/cut-*; do
			[ -e "$f" ] || continue
			case "$f" in *.partial) ;; *) fail "a cut dump is left as $f" ;; esac
		done
	fi
	;;
qemu_killed_boot)
	# QEMU killed while the guest boots: QEMU's death, not a boot timeout
	# (the kernel's first console line says QEMU is up and the guest boots:
	# killed before that, QEMU never started, which is vigil's error, 125)
	"$VIGIL" run --accel tcg --verdict verdict.json --events events.jsonl \
		--console console.txt --append loglevel=7 -- true >out.txt 2>err.txt &
	vp=$!
	qp=""
	for i in $(seq 100); do
		qp=$(VPARENT=$vp qemu_child) && break
		sleep 0.05
	done
	[ -n "$qp" ] || fail "no QEMU child"
	for i in $(seq 200); do
		[ -s console.txt ] && break
		sleep 0.05
	done
	[ -s console.txt ] || fail "the guest's console stayed empty"
	grep -q '"event":"ready"' events.jsonl && fail "the guest was ready too soon for this test"
	kill -KILL "$qp"
	wait $vp
	got=$?
	[ "$got" = 124 ] || fail "exit status $got, want 124"
	outcome_is QEMU_EXITED
	grep -q 'BOOT_TIMEOUT' verdict.json && fail "QEMU's death reported as a boot timeout"
	grep -q 'QEMU_EXITED' err.txt || fail "the summary does not say QEMU_EXITED"
	;;
qemu_no_start)
	# a QEMU that cannot start: vigil's own error with QEMU's message
	run_vigil 125 --qemu-arg -no-such-option -- true
	outcome_is HARNESS_ERROR
	grep -q 'no-such-option' verdict.json || fail "QEMU's stderr is not in the verdict"
	;;
tcp_flow)
	# busybox's ip and nc: the image's
	run_vigil 0 --rootfs image -- sh -c '
		ip link set lo up
		sleep 4 | nc -l -p 5555 >/dev/null &
		sleep 0.3
		(echo hello; sleep 2.5) | nc 127.0.0.1 5555
		wait; exit 0'
	# both ends of the connection are seen (sock_diag sees each socket)
	grep -q '"opened": [2-9]' verdict.json || fail "the connection was not seen"
	# the client's end: some port -> 127.0.0.1:5555, opened then closed
	cli=$(grep '"event":"flow"' events.jsonl | grep '"state":"opened"' |
		grep '"protocol":6,' | grep '"dst_port":5555,' | grep '"dst_addr":"[:f]*127.0.0.1"' |
		head -1 | sed -n 's/.*"src_port":\([0-9]*\),.*/\1/p')
	[ -n "$cli" ] && [ "$cli" != 5555 ] || fail "no flow event for the client's end"
	# the server's end: 5555 -> the client's port
	grep '"event":"flow"' events.jsonl | grep '"state":"opened"' |
		grep -q "\"src_port\":5555,.*\"dst_port\":$cli," ||
		fail "no flow event for the server's end (5555 -> $cli)"
	[ "$(grep '"event":"flow"' events.jsonl | grep '"state":"closed"' |
		grep -c "\"src_port\":\($cli\|5555\),.*\"dst_port\":\(5555\|$cli\),")" -ge 2 ] ||
		fail "the connection's two ends were not seen closing"
	;;
pci_modules)
	# PCI drivers: not loaded on microvm (no PCI device), loaded on pc,
	# whose port is a virtio-serial-pci (a boot there needs them)
	run_vigil 0 --rootfs image -- sh -c 'cut -d" " -f1 /proc/modules'
	grep -qx virtio_mmio out.txt || fail "microvm: no virtio_mmio: $(cat out.txt)"
	! grep -q 'pci' out.txt || fail "microvm loaded a PCI driver: $(cat out.txt)"
	grep -q 'modules_skipped=4' events.jsonl || fail "microvm: not 4 modules skipped"
	run_vigil 0 --rootfs image --machine pc -- sh -c 'cut -d" " -f1 /proc/modules'
	for m in virtio_pci virtio_pci_modern_dev virtio_pci_legacy_dev pvpanic_pci; do
		grep -qx $m out.txt || fail "pc: $m not loaded: $(cat out.txt)"
	done
	grep -q 'modules_skipped=0' events.jsonl || fail "pc: modules skipped"
	;;
modprobe_path)
	# The image's busybox modprobe is at /usr/sbin (the kernel's boot-time
	# requests find no /sbin/modprobe); autoloading is pointed at it once
	# the root is final, at the host's /sbin/modprobe under the host's root,
	# and at an image's own /sbin/modprobe, which a later request runs.
	run_vigil 0 --rootfs image -- sh -c '
		echo "sysctl $(cat /proc/sys/kernel/modprobe)"
		[ -e /sbin/modprobe ] && echo "sbin has modprobe"; exit 0'
	grep -qx 'sysctl /usr/sbin/modprobe' out.txt || fail "image: $(cat out.txt)"
	! grep -q 'sbin has' out.txt || fail "the image has /sbin/modprobe"
	run_vigil 0 --rootfs host -- sh -c 'echo "sysctl $(cat /proc/sys/kernel/modprobe)"'
	grep -qx 'sysctl /sbin/modprobe' out.txt || fail "host root: $(cat out.txt)"
	printf '#!/bin/sh\necho "$*" >> /tmp/requests\nexit 1\n' >helper
	chmod 755 helper
	run_vigil 0 --rootfs image --add "$PWD/helper:/sbin/modprobe" -- sh -c '
		cat /proc/sys/kernel/modprobe
		mount -t vigilnofs none /mnt 2>/dev/null
		grep -q "fs-vigilnofs" /tmp/requests && echo "request ran"; exit 0'
	grep -qx '/sbin/modprobe' out.txt && grep -qx 'request ran' out.txt ||
		fail "an image's own /sbin/modprobe was not run: $(cat out.txt)"
	;;
attach | attach_killed | attach_qmp_lost | vm_stop)
	# QEMU started by hand, the port in server mode; vigil attaches to it.
	# attach_killed: the first vigil is SIGKILLed mid-run (no goodbye); the
	# second one finds the stream mid-way and accounts for what it missed.
	# vm_stop: a second QMP socket lets the test stop the VM for longer
	# than the stall threshold: the VM's stop is not a stall.
	img=$("$VIGIL" initramfs -q) || fail "cannot build the image"
	kernel=${VIGIL_KERNEL:-$(ls /boot/vmlinuz-* | sort -V | tail -1)}
	if [ "$NAME" = attach_qmp_lost ]; then
		command -v python3 >/dev/null || { echo "skip: no python3 for the QMP proxy"; exit 77; }
		work='vigil-agent beat --every 100 & sleep 2; vigil-agent snapshot --kind cpu --tag x && echo snap-ok || echo snap-failed; sleep 3; exit 0'
	elif [ "$NAME" != vm_stop ]; then
		work='vigil-agent beat --every 100 & sleep 7; exit 0'
	else
		command -v python3 >/dev/null || { echo "skip: no python3 for QMP"; exit 77; }
		work='vigil-agent beat --every 100 & sleep 9; exit 0'
	fi
	# -M pc: microvm would need tsc_early_khz, which vigil run computes
	qemu-system-x86_64 -M pc -accel tcg -m 512 -nodefaults -no-user-config \
		-display none -no-reboot -name t,debug-threads=on -kernel "$kernel" \
		-initrd "$img" -serial file:console.txt \
		-append "console=ttyS0 loglevel=4 tsc=reliable no_timer_check -- sh -c \"$work\"" \
		-device virtio-serial-pci \
		-chardev socket,id=vport,path="$WORK/port.sock",server=on,wait=off \
		-device virtserialport,chardev=vport,name=org.vigil.bulk.0 \
		-qmp unix:"$WORK/qmp.sock",server=on,wait=off \
		-qmp unix:"$WORK/qmp2.sock",server=on,wait=off -device pvpanic &
	qp=$!
	trap 'kill -9 $qp 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
	for i in $(seq 50); do [ -S port.sock ] && [ -S qmp2.sock ] && break; sleep 0.1; done
	if [ "$NAME" = attach_qmp_lost ]; then
		# QMP through a proxy that hangs up when vigil sends a command (the
		# guest's CPU-state snapshot): the snapshot fails, the run goes on
		python3 - "$WORK/qmp.sock" "$WORK/proxy.sock" <<'PY' &
import select, socket, sys
ls = socket.socket(socket.AF_UNIX)
ls.bind(sys.argv[2]); ls.listen(1)
for first in (True, False):  # the second connection is vigil's again
    c, _ = ls.accept()
    q = socket.socket(socket.AF_UNIX); q.connect(sys.argv[1])
    up = True
    while up:
        for s in select.select([c, q], [], [])[0]:
            d = s.recv(65536)
            if not d or (first and s is c and b"human-monitor-command" in d):
                up = False
                break
            (q if s is c else c).sendall(d)
    c.close(); q.close()
PY
		pp=$!
		for i in $(seq 50); do [ -S proxy.sock ] && break; sleep 0.1; done
		"$VIGIL" attach --socket port.sock --qmp proxy.sock --verdict verdict.json \
			--events events.jsonl >out.txt 2>err.txt || fail "attach exit status $?"
		wait $pp
		outcome_is PASS
		grep '"stream":"stdout"' events.jsonl | grep -q 'snap-failed' ||
			fail "the guest's snapshot did not fail when QMP went away"
		grep '"event":"snapshot_done"' events.jsonl | grep -q '"status":-' ||
			fail "no failed snapshot_done"
		grep -q 'QMP at .*proxy.sock closed' err.txt || fail "stderr does not say QMP went away"
		grep -q 'QMP at .*proxy.sock is back' err.txt || fail "vigil did not connect to QMP again"
		[ "$(event_count stall)" = 0 ] || fail "a stall after QMP went away"
	elif [ "$NAME" != vm_stop ]; then
		"$VIGIL" attach -q --socket port.sock --qmp qmp.sock --events ev1.jsonl &
		vp=$!
		for i in $(seq 100); do
			grep -q '"event":"process_new"' ev1.jsonl 2>/dev/null && break
			sleep 0.1
		done
		grep -q '"event":"process_new"' ev1.jsonl || fail "the first attach saw no beats"
		# SIGTERM: a background job of a script ignores SIGINT
		if [ "$NAME" = attach ]; then sig=TERM want=125; else sig=KILL want=137; fi
		kill -$sig $vp
		wait $vp
		[ $? = $want ] || fail "the first attach, ended by SIG$sig, must exit $want"
		[ "$NAME" = attach_killed ] && sleep 1.5 # frames go by while nobody reads
		"$VIGIL" attach -q --socket port.sock --qmp qmp.sock --verdict verdict.json \
			--events events.jsonl || fail "the second attach did not pass"
		outcome_is PASS
		grep -q '"lost_frames": [0-9]' verdict.json || fail "no seq accounting"
		[ "$(event_count stall)" = 0 ] || fail "the second attach saw a stall"
		if [ "$NAME" = attach_killed ]; then
			# the agent holds its frames while no one reads the port: at
			# most the frame the killed vigil was reading is cut short
			grep -q '"lost_frames": [01],' verdict.json ||
				fail "frames were lost across the kill: $(grep lost_frames verdict.json)"
			grep '"event":"agent_stats"' events.jsonl | tail -n 1 |
				grep -q '"frames_dropped":0' || fail "the agent dropped frames"
			[ "$(event_count process_new)" -ge 1 ] || fail "the second attach saw no beater"
		fi
	else
		"$VIGIL" attach -q --socket port.sock --qmp qmp.sock --stall-threshold 1s \
			--verdict verdict.json --events events.jsonl &
		vp=$!
		for i in $(seq 100); do
			grep -q '"event":"process_new"' events.jsonl 2>/dev/null && break
			sleep 0.1
		done
		sleep 0.5
		python3 - "$WORK/qmp2.sock" <<'PY' || fail "QMP stop/cont failed"
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
def cmd(c):
    f.write(json.dumps({"execute": c}) + "\n"); f.flush()
    while "return" not in json.loads(f.readline()):
        pass
cmd("qmp_capabilities"); cmd("stop"); time.sleep(2.5); cmd("cont")
PY
		wait $vp || fail "attach exit status $?"
		[ "$(event_count process_new)" -ge 1 ] || fail "no beating process"
		[ "$(event_count vm_stopped)" -ge 1 ] || fail "the stop was not seen"
		[ "$(event_count stall)" = 0 ] || fail "the VM's stop was taken for a stall"
	fi
	wait $qp
	;;
attach_two)
	# one vigil attach watches two QEMUs: guest a stalls (and exits 3),
	# guest b beats and exits 0; only a reports the stall, each guest has
	# its own outputs, and the exit status is the worst verdict's
	img=$("$VIGIL" initramfs -q) || fail "cannot build the image"
	kernel=${VIGIL_KERNEL:-$(ls /boot/vmlinuz-* | sort -V | tail -1)}
	start_qemu() { # DIR WORK
		mkdir -p "$1"
		qemu-system-x86_64 -M pc -accel tcg -m 256 -nodefaults -no-user-config \
			-display none -no-reboot -kernel "$kernel" -initrd "$img" \
			-append "console=ttyS0 loglevel=4 tsc=reliable no_timer_check -- sh -c \"$2\"" \
			-device virtio-serial-pci \
			-chardev socket,id=vport,path="$1/port.sock",server=on,wait=off \
			-device virtserialport,chardev=vport,name=org.vigil.bulk.0 \
			-qmp unix:"$1/qmp.sock",server=on,wait=off >/dev/null 2>&1 &
	}
	start_qemu "$WORK/a" 'vigil-agent beat --every 100 & B=$!; sleep 3; kill -STOP $B; sleep 2.5; exit 3'
	qa=$!
	start_qemu "$WORK/b" 'vigil-agent beat --every 100 & sleep 5.5; exit 0'
	qb=$!
	trap 'kill -9 $qa $qb 2>/dev/null; rm -rf "$WORK"' EXIT
	for i in $(seq 50); do [ -S a/port.sock ] && [ -S b/port.sock ] && break; sleep 0.1; done
	"$VIGIL" attach -q --stall-threshold 1s --out-dir out --report report.html \
		--socket a="$WORK/a/port.sock" --qmp a="$WORK/a/qmp.sock" \
		--socket b="$WORK/b/port.sock" --qmp b="$WORK/b/qmp.sock" >out.txt 2>err.txt
	got=$?
	[ "$got" = 3 ] || fail "exit status $got, want 3 (guest a's)"
	grep -q '"event":"stall"' out/a/events.jsonl || fail "guest a's stall was not seen"
	grep -q '"event":"stall"' out/b/events.jsonl && fail "guest b reported a stall"
	grep -q '"outcome": "WORKLOAD_FAILED"' out/a/verdict.json || fail "guest a's verdict"
	grep -q '^  "outcome": "PASS"' out/b/verdict.json || fail "guest b's verdict"
	[ -s out/b/junit.xml ] || fail "no JUnit for guest b"
	grep -q 'class="stall" data-pid=' out/a/report.html || fail "guest a's page has no stall"
	grep -q 'class="stall" data-pid=' out/b/report.html && fail "guest b's page has a stall"
	grep -q '<title>vigil report: PASS — b</title>' out/b/report.html ||
		fail "guest b's page is not titled with its name and verdict"
	wait $qa $qb
	;;
record_decode)
	# the replay gives the same events, verdict and status as the run
	run_vigil 2 --stall-threshold 1s --record run.rec -- sh -c '
		vigil-agent beat --every 100 & B=$!
		sleep 0.5; kill -STOP $B; sleep 1.5; kill -CONT $B; sleep 0.3
		vigil-agent emit result t1 pass; kill $B; exit 2'
	"$VIGIL" decode -q --verdict decoded.json run.rec >decoded.jsonl
	[ $? = 2 ] || fail "decode exit status differs"
	cmp -s events.jsonl decoded.jsonl || fail "decoded events differ"
	cmp -s verdict.json decoded.json || fail "decoded verdict differs"
	[ "$(event_count stall)" -ge 1 ] || fail "no stall to replay"
	;;
flows_short)
	# 200 short TCP connections and 50 UDP request/replies in about 2 s over
	# IPv4 and IPv6 loopback, one connection living 1 ms: every flow is
	# seen, with its ports and bytes, and nothing else (vmtest/flowgen.c,
	# vmtest/flows_check.py)
	command -v python3 >/dev/null || { echo "skip: no python3 to check the events"; exit 77; }
	gen=${VIGIL_FLOWGEN:-$(dirname "$VIGIL_AGENT")/../vmtest/flowgen}
	[ -x "$gen" ] || fail "no flowgen at $gen (set VIGIL_FLOWGEN)"
	# the sleep: the listeners' notifications come after flowgen's exit
	run_vigil 0 -- sh -c "$gen 200 50 2 && sleep 0.5"
	grep -q '^conn tcp 4 [0-9]* [0-9]* ms1$' out.txt || fail "flowgen made no 1 ms connection"
	python3 "$HERE/flows_check.py" out.txt events.jsonl verdict.json >check.txt ||
		fail "$(cat check.txt)"
	cat check.txt
	;;
host_python)
	# --rootfs host: an interpreter with its modules runs as on the host
	command -v python3 >/dev/null || { echo "skip: no python3 on this host"; exit 77; }
	run_vigil 0 --rootfs host -- python3 -c 'import json,sys; print(json.dumps({"v": sys.version}))'
	python3 -c 'import json,sys; print(json.dumps({"v": sys.version}))' >want.txt
	cmp -s out.txt want.txt || fail "output '$(cat out.txt)', want '$(cat want.txt)'"
	grep -q '"rootfs": "host"' verdict.json || fail "the provenance does not say rootfs host"
	;;
host_script)
	# a script of the current directory that reads its own files and calls
	# host tools; its status is kept
	mkdir -p proj/data
	echo 42 >proj/data/answer
	printf '#!/bin/sh
set -e
printf "%%s in %%s as %%s\\n" "$(cat data/answer)" "$(pwd)" "$(id -u)"
sort -r data/answer >/dev/null
exit 3
' >proj/my-test.sh
	chmod +x proj/my-test.sh
	cd proj
	run_vigil 3 --rootfs host -- sh -c './my-test.sh'
	[ "$(cat out.txt)" = "42 in $WORK/proj as $(id -u)" ] || fail "got '$(cat out.txt)'"
	outcome_is WORKLOAD_FAILED
	;;
host_stress_ng)
	command -v stress-ng >/dev/null || { echo "skip: no stress-ng (Debian package stress-ng)"; exit 77; }
	run_vigil 0 --rootfs host -- stress-ng --cpu 1 --timeout 3s
	grep -q 'successful run completed' err.txt || fail "stress-ng did not complete"
	outcome_is PASS
	;;
host_make)
	command -v make >/dev/null || { echo "skip: no make (Debian package make)"; exit 77; }
	mkdir -p tiny
	printf 'check: sum
	./sum 2 3 | grep -qx 5
	@echo check passed
sum: sum.sh
	cp sum.sh sum && chmod +x sum
' >tiny/Makefile
	printf '#!/bin/sh
echo $(($1 + $2))
' >tiny/sum.sh
	run_vigil 0 --rootfs host -- make -C tiny check
	grep -qx 'check passed' out.txt || fail "make check did not pass: $(cat out.txt)"
	[ ! -e tiny/sum ] || fail "the guest's build output reached the host without --rwdir"
	printf '#!/bin/sh
echo 6
' >tiny/sum.sh
	run_vigil 2 --rootfs host -- make -C tiny check
	outcome_is WORKLOAD_FAILED
	run_vigil 0 --rootfs host --rwdir tiny -- make -C tiny sum
	[ -x tiny/sum ] || fail "--rwdir tiny: the build output did not reach the host"
	;;
host_readonly)
	# the host enforces read-only: a guest root that mounts the share again
	# and remounts it read-write still cannot write under /usr; secrets are
	# hidden; --rwdir writes reach the host, other writes vanish
	mkdir -p out
	run_vigil 0 --rootfs host --rwdir out -- sh -c '
		mkdir -p /mnt/h && mount -t virtiofs vigilroot /mnt/h || exit 10
		mount -o remount,rw /mnt/h || exit 11
		if touch /mnt/h/usr/vigil-vmtest-ro 2>/dev/null; then echo wrote-usr; fi
		if touch /usr/vigil-vmtest-overlay; then echo overlay-ok; fi
		echo "shadow $(wc -c </etc/shadow)"
		[ -e /mnt/h/proc/self ] && echo host-proc
		echo back >out/result; echo gone >vanish; exit 0'
	grep -q wrote-usr out.txt && fail "the guest wrote under the host's /usr"
	[ -e /usr/vigil-vmtest-ro ] && { rm -f /usr/vigil-vmtest-ro; fail "/usr/vigil-vmtest-ro reached the host"; }
	[ -e /usr/vigil-vmtest-overlay ] && { rm -f /usr/vigil-vmtest-overlay; fail "an overlay write reached the host"; }
	grep -q overlay-ok out.txt || fail "the guest cannot write to its own overlay"
	grep -qx 'shadow 0' out.txt || fail "/etc/shadow is not hidden: $(grep shadow out.txt)"
	grep -q host-proc out.txt && fail "the host's /proc is visible through the share"
	[ "$(cat out/result 2>/dev/null)" = back ] || fail "--rwdir out: the write did not reach the host"
	[ -e vanish ] && fail "a write outside --rwdir reached the host"
	ls /run/vigil 2>/dev/null | grep -q . && fail "runtime directories left: $(ls /run/vigil)"
	outcome_is PASS
	;;
host_virtiofsd_killed)
	# virtiofsd dies under a running guest: a clear harness error, no hang
	LOUD=1
	"$VIGIL" run --accel tcg --verdict verdict.json --rootfs host -- sleep 30 >out.txt 2>err.txt &
	VPARENT=$!
	sleep 5
	pkill -KILL -f "virtiofsd --fd=" || fail "no virtiofsd to kill"
	wait $VPARENT
	got=$?
	[ "$got" = 125 ] || fail "exit status $got, want 125"
	grep -q 'virtiofsd was killed' err.txt || fail "no message about virtiofsd"
	outcome_is HARNESS_ERROR
	;;
host_nonroot)
	# without root or without virtiofsd, --rootfs host says what it needs
	command -v setpriv >/dev/null || { echo "skip: no setpriv"; exit 77; }
	[ "$(id -u)" = 0 ] || { echo "skip: needs root to drop to another user"; exit 77; }
	chmod 755 "$WORK"
	setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$WORK" \
		"$VIGIL" run --rootfs host -- true >out.txt 2>err.txt
	got=$?
	[ "$got" = 125 ] || fail "exit status $got, want 125"
	grep -q 'needs root' err.txt && grep -q -- '--rootfs image' err.txt ||
		fail "no clear message: $(cat err.txt)"
	# no virtiofsd: the message names the package
	VIGIL_VIRTIOFSD=/nonexistent/virtiofsd "$VIGIL" run --rootfs host -- true >out.txt 2>err.txt
	got=$?
	[ "$got" = 125 ] || fail "without virtiofsd: exit status $got, want 125"
	grep -q 'qemu-system-common' err.txt || fail "no package named: $(cat err.txt)"
	;;
classify_stopped)
	# a SIGSTOPped beater: its stall is classified "stopped" (two samples,
	# state T) in the events, the verdict and the summary; --on-stall fail
	# waits for the class, then ends the run with 121
	LOUD=1
	run_vigil 121 --stall-threshold 1s --on-stall fail -- sh -c '
		vigil-agent beat --every 100 & B=$!
		echo "pid $B"; sleep 1; kill -STOP $B; sleep 60'
	classified_is stopped
	grep -q '"state": "T"' verdict.json || fail "no state T sample in the verdict"
	grep -q "process $pid (vigil-agent) stalled .*: stopped (T)" err.txt ||
		fail "the summary does not say stopped: $(grep PROCESS_STALL err.txt)"
	;;
on_stall_debug)
	# --on-stall debug: a SIGSTOPped beater stalls; vigil stops the VM and
	# keeps QEMU, with a gdbstub and a QMP socket it prints, until SIGINT;
	# then the stall's verdict (121), QEMU gone, the runtime directory gone
	command -v gdb >/dev/null || { echo "skip: no gdb on this host"; exit 77; }
	command -v python3 >/dev/null || { echo "skip: no python3 on this host"; exit 77; }
	"$VIGIL" run --accel tcg --verdict verdict.json --events events.jsonl \
		--stall-threshold 1s --on-stall debug -- sh -c '
		vigil-agent beat --every 100 & B=$!
		echo "pid $B"; sleep 1; kill -STOP $B; sleep 600' >out.txt 2>err.txt &
	vp=$!
	wait_hold
	port=$(sed -n "s/.*target remote 127.0.0.1:\([0-9]*\)'.*/\1/p" err.txt)
	qmp=$(sed -n 's/^  QMP:  \([^ ]*\) .*/\1/p' err.txt)
	[ -n "$port" ] && [ -S "$qmp" ] || { kill $vp; fail "no gdb port or QMP socket printed"; }
	sleep 2 # vigil waits for the person, with no timer
	kill -0 $vp 2>/dev/null || fail "vigil did not wait"
	qp=$(VPARENT=$vp qemu_child) || fail "QEMU is gone while held"
	python3 - "$qmp" >qmp.txt 2>&1 <<'EOF' || { kill $vp; fail "QMP: $(cat qmp.txt)"; }
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())
for cmd in ("qmp_capabilities", "query-status"):
    f.write(json.dumps({"execute": cmd}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
print(json.dumps(r))
EOF
	grep -q '"status": "paused"' qmp.txt || { kill $vp; fail "the VM is not paused: $(cat qmp.txt)"; }
	timeout 60 gdb -batch -nx -ex "target remote 127.0.0.1:$port" \
		-ex 'info registers rip' >gdb.txt 2>&1
	grep -q '^rip ' gdb.txt || { kill $vp; fail "gdb read no registers: $(tail -3 gdb.txt)"; }
	dir=$(dirname "$qmp")
	end_hold 121
	outcome_is PROCESS_STALL
	grep -q '"class": "stopped"' verdict.json || fail "the class is not in the verdict"
	kill -0 "$qp" 2>/dev/null && fail "QEMU outlived vigil"
	[ -e "$dir" ] && fail "the runtime directory $dir is left"
	grep -q 'nokaslr' verdict.json || fail "the guest did not boot with nokaslr"
	;;
on_stall_debug_crash)
	# --on-stall debug on a kernel panic: QEMU pauses the panicked guest
	# (not reset, not quit) and vigil holds it until SIGINT; then the
	# crash's verdict (126). The pause comes at pvpanic's report, so the
	# console may stop before the call trace: only the panic line is sure
	"$VIGIL" run --accel tcg --verdict verdict.json --on-stall debug -- \
		sh -c 'echo c >/proc/sysrq-trigger' >out.txt 2>err.txt &
	vp=$!
	wait_hold
	sleep 6 # past the 5 s a panicked guest has to reset itself
	kill -0 $vp 2>/dev/null || fail "vigil did not wait"
	qp=$(VPARENT=$vp qemu_child) || fail "QEMU is gone while held"
	end_hold 126
	outcome_is GUEST_CRASH
	grep -q 'Kernel panic' verdict.json || fail "no panic line in the evidence"
	kill -0 "$qp" 2>/dev/null && fail "QEMU outlived vigil"
	;;
file_limit)
	# --file-limit: a guest writing far more than the limit fills none of
	# the files past it; the events end with events_truncated and run_end,
	# the recording replays up to its cut, and the run's verdict is whole
	run_vigil 0 --file-limit 64K --record rec.bin -- sh -c \
		'head -c 2000000 /dev/zero | od -v | head -c 1500000
		 head -c 200000 /dev/zero | od -v | head -c 100000 >/dev/console; echo done >&2'
	outcome_is PASS
	for f in events.jsonl console.txt rec.bin; do
		sz=$(stat -c %s $f)
		[ "$sz" -le $((65536 + 1024)) ] || fail "$f grew to $sz bytes"
	done
	[ "$(stat -c %s events.jsonl)" -ge 60000 ] || fail "events.jsonl stopped early"
	tail -n 2 events.jsonl | head -n 1 | grep -q '"event":"events_truncated"' ||
		fail "no events_truncated line before run_end"
	tail -n 1 events.jsonl | grep -q '"event":"run_end"' || fail "run_end is not the last line"
	grep -q 'events.jsonl reached --file-limit (65536 bytes)' err.txt ||
		fail "stderr does not say the events file is full"
	grep -q 'the recording rec.bin stops at --file-limit' err.txt ||
		fail "stderr does not say the recording stopped"
	[ "$(stat -c %s console.txt)" -ge 60000 ] || fail "console.txt stopped early"
	grep -q 'console.txt reached --file-limit' err.txt ||
		fail "stderr does not say the console copy is full"
	"$VIGIL" decode rec.bin >/dev/null 2>decode.txt
	[ -s decode.txt ] || fail "vigil decode of the cut recording said nothing"
	;;
valgrind_run)
	# vigil run under valgrind memcheck (--rootfs image: the host-root view
	# is built with open_tree and mount_setattr, which valgrind 3.19 does
	# not know; QEMU is its child, not run under valgrind): a stall, every
	# output; no invalid access, no leak (definite or indirect)
	command -v valgrind >/dev/null || { echo "skip: no valgrind (Debian: valgrind)"; exit 77; }
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=99 --log-file="$WORK/valgrind.txt" \
		"$VIGIL" run --accel tcg -q --rootfs image --verdict verdict.json \
		--events events.jsonl --record rec.bin --report report.html --junit junit.xml \
		--console console.txt --stall-threshold 1s -- sh -c \
		'vigil-agent beat --every 100 & B=$!; sleep 2; kill -STOP $B; sleep 3; echo done' \
		>out.txt 2>err.txt
	got=$?
	[ -f valgrind.txt ] || fail "vigil did not run under valgrind"
	grep -q '==[0-9]*== ' valgrind.txt && fail "valgrind: $(head -40 valgrind.txt)"
	[ "$got" = 0 ] || fail "exit status $got, want 0"
	outcome_is PASS
	[ "$(event_count stall)" = 1 ] || fail "want one stall, got $(event_count stall)"
	grep -q '^done$' out.txt || fail "the workload's output is missing"
	;;
classify_sleeping)
	# a process that beats, then sleeps in the kernel without beating (a
	# python3 sender of the beat datagram, so that the sleeper is the beater)
	command -v python3 >/dev/null || { echo "skip: no python3 on this host"; exit 77; }
	LOUD=1
	run_vigil 121 --stall-threshold 1s --on-stall fail -- python3 -c '
import os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for n in range(1, 11):
    s.sendto(struct.pack("<IHHIIQII", 0x31424756, 1, 0, os.getpid(), 0, n, 1000, 0),
             "/run/vigil/beat.sock")
    time.sleep(0.1)
print("pid", os.getpid(), flush=True)
time.sleep(60)'
	classified_is sleeping
	grep -q '"state": "S"' verdict.json || fail "no state S sample in the verdict"
	grep -q "stalled .*: sleeping (S)" err.txt || fail "the summary does not say sleeping"
	;;
classify_gone)
	# a beater killed with SIGKILL and reaped: gone (-ESRCH)
	run_vigil 121 --stall-threshold 1s --on-stall fail -- sh -c '
		vigil-agent beat --every 100 & B=$!
		echo "pid $B"; sleep 1; kill -KILL $B; wait $B; sleep 60'
	classified_is gone
	grep -q '"status": -3' verdict.json || fail "no -ESRCH sample in the verdict"
	;;
classify_runnable)
	# a SCHED_NORMAL beater starved by a SCHED_FIFO 1 busy loop with RT
	# throttling off on the 1-vCPU guest: runnable, not scheduled. The agent
	# (SCHED_FIFO 50, docs/agent.md) still answers both INSPECTs and PINGs.
	# timeout runs at FIFO 2 so that it can end the loop. --rootfs image
	# (chrt carried with --exe): on the host's root over virtiofs, FUSE
	# requests wait for a kernel worker the loop starves, and the beater
	# would block on its own page faults instead of waiting to run.
	LOUD=1
	run_vigil 121 --rootfs image --exe /usr/bin/chrt --stall-threshold 1s --on-stall fail -- sh -c '
		echo -1 >/proc/sys/kernel/sched_rt_runtime_us || exit 9
		vigil-agent beat --every 100 & B=$!
		echo "pid $B"; sleep 1
		chrt -f 2 timeout 20 chrt -f 1 sh -c "while :; do :; done"
		sleep 60'
	classified_is runnable
	grep '"event":"stall_classified"' events.jsonl | grep -q '"samples":\[{[^]]*"state":"R".*"state":"R"' ||
		fail "the samples are not both state R"
	grep -q "stalled .*: runnable, not scheduled in the [0-9]* ms sampled (wait +[0-9.]*[ ms]*, run +0) on cpu 0, policy NORMAL" err.txt ||
		fail "the summary does not say runnable: $(grep -i stall err.txt)"
	# the agent answered both INSPECTs while the loop ran
	grep -A3 '"inspect": {' verdict.json | grep -q '"reports": 2' ||
		fail "the agent did not answer both INSPECTs"
	;;
guest_freeze)
	# the whole guest frozen from inside: a busy loop at the agent's own
	# SCHED_FIFO priority (50) with RT throttling off on the one vCPU, while
	# three processes beat. FIFO does not preempt an equal priority, so
	# nothing else runs, the agent included: one guest stall, with the
	# process stalls folded in, not three process stalls
	LOUD=1
	run_vigil 121 --rootfs image --exe /usr/bin/chrt --stall-threshold 1s --on-stall fail -- sh -c '
		echo -1 >/proc/sys/kernel/sched_rt_runtime_us || exit 9
		vigil-agent beat --every 100 & vigil-agent beat --every 100 &
		vigil-agent beat --every 100 &
		sleep 1.5
		chrt -f 50 sh -c "while :; do :; done"'
	outcome_is GUEST_STALL
	[ "$(grep -c '"outcome": "GUEST_STALL"' verdict.json)" -ge 1 ] || fail "no guest stall"
	grep -q '"outcome": "PROCESS_STALL"' verdict.json && fail "a process stall was kept"
	grep -q '"outcome": "HOST_STARVED"' verdict.json && fail "the freeze was blamed on the host"
	folded=$(grep -o '"folded": [0-9]*' verdict.json | head -1 | grep -o '[0-9]*$')
	[ "${folded:-0}" -ge 1 ] || fail "no process stall folded into the guest stall"
	[ "$(grep '"event":"stall_classified"' events.jsonl | grep -c '"class":"guest_stall"')" = 1 ] ||
		fail "not exactly one guest stall event"
	grep -q "GUEST_STALL .*the guest stalled" err.txt || fail "the summary does not say guest stall"
	;;
guest_halted)
	# the agent stopped from inside (SIGSTOP from its workload) and nothing
	# else running: the guest goes idle and sends nothing at all. Its vCPU
	# thread sleeps (no CPU time, no runqueue wait, not stopped by the host):
	# a halted guest, a guest stall, not HOST_STARVED
	LOUD=1
	run_vigil 121 --stall-threshold 2s --on-stall fail -- sh -c 'sleep 1; kill -STOP $PPID; sleep 60'
	outcome_is GUEST_STALL
	grep -q '"outcome": "HOST_STARVED"' verdict.json && fail "a halted guest was blamed on the host"
	grep '"event":"stall_classified"' events.jsonl | grep -q '"class":"guest_stall"' ||
		fail "no guest stall event"
	;;
agent_restart)
	# the agent killed inside the guest: PID 1 starts it again; a new epoch,
	# its predecessor's own beat said goodbye, no false stall
	run_vigil 124 --rootfs image --stall-threshold 1s --timeout 10s -- sh -c '
		vigil-agent beat --every 200 & sleep 2; kill -9 $PPID; sleep 30'
	[ "$(event_count agent_restart)" = 1 ] || fail "no agent_restart event"
	grep '"event":"agent_restart"' events.jsonl | grep -q '"epoch":2' || fail "not epoch 2"
	grep '"event":"process_gone"' events.jsonl | grep -q '"reason":"stopping"' ||
		fail "the dead agent's beat was not ended"
	[ "$(event_count stall)" = 0 ] || fail "a stall was reported: $(grep '"event":"stall"' events.jsonl)"
	;;
kernel_boot)
	# the kernel's vmlinux through PVH by default; the bzImage when asked
	run_vigil 0 --rootfs image -- true
	grep -q '"boot": "pvh"' verdict.json || fail "the default boot is not PVH"
	run_vigil 0 --rootfs image --kernel-boot bzimage -- true
	grep -q '"boot": "bzimage"' verdict.json || fail "--kernel-boot bzimage not honoured"
	# a kernel given as the extracted vmlinux boots as it is
	vmlinux=$(ls -t "${XDG_CACHE_HOME:-$HOME/.cache}"/vigil/vmlinux-*.elf | head -n 1)
	run_vigil 0 --rootfs image --kernel "$vmlinux" --append "vigil.x=1" -- true ||
		fail "the vmlinux given as --kernel did not boot"
	;;
kernel_tree)
	# a kernel laid out as a build tree: the Debian kernel's vmlinux (as
	# vigil extracts it), include/config/kernel.release, its modules at
	# in-tree paths listed in modules.order (as kbuild leaves them)
	run_vigil 0 --rootfs image -- true # the vmlinux in the cache
	vmlinux=$(ls -t "${XDG_CACHE_HOME:-$HOME/.cache}"/vigil/vmlinux-*.elf | head -n 1)
	rel=$(sed -n 's/.*"release": "\([^"]*\)".*/\1/p' verdict.json | head -n 1)
	[ -n "$rel" ] && [ -d "/lib/modules/$rel" ] || fail "no release or modules for the kernel"
	T=$WORK/tree
	mkdir -p "$T/include/config"
	cp "$vmlinux" "$T/vmlinux"
	echo "$rel" >"$T/include/config/kernel.release"
	cp "/lib/modules/$rel/modules.builtin" "$T/"
	: >"$T/modules.order"
	# and the same modules hand-copied with only the text modules.dep lines
	M=$WORK/mods/$rel
	mkdir -p "$M"
	for m in virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
		virtio_mmio virtio_console; do
		src=$(sed -n "s|^\(kernel/.*/$m\.ko[.a-z]*\):.*|\1|p" "/lib/modules/$rel/modules.dep")
		[ -n "$src" ] || continue # built in
		dst=${src#kernel/}
		mkdir -p "$T/$(dirname "$dst")" "$M/$(dirname "$src")"
		cp "/lib/modules/$rel/$src" "$T/$dst"
		cp "/lib/modules/$rel/$src" "$M/$src"
		grep "^$src:" "/lib/modules/$rel/modules.dep" >>"$M/modules.dep"
		echo "${dst%.ko*}.o" >>"$T/modules.order"
	done
	run_vigil 0 --rootfs image --kernel-tree "$T" -- uname -r
	[ "$(cat out.txt)" = "$rel" ] || fail "the guest says release '$(cat out.txt)', want $rel"
	# no binary indexes: depmod indexes a private copy, the directory stays as it is
	run_vigil 0 --rootfs image --kernel "$vmlinux" --modules-dir "$M" -- uname -r
	[ "$(cat out.txt)" = "$rel" ] || fail "--modules-dir: the guest says '$(cat out.txt)'"
	[ ! -e "$M/modules.dep.bin" ] || fail "depmod wrote into the --modules-dir"
	# a tree without virtio_console: a message naming the option
	grep -v virtio_console "$T/modules.order" >"$T/o" && mv "$T/o" "$T/modules.order"
	LOUD=1
	run_vigil 125 --rootfs image --kernel-tree "$T" -- true
	grep -q CONFIG_VIRTIO_CONSOLE err.txt || fail "no CONFIG_VIRTIO_CONSOLE in: $(cat err.txt)"
	;;
*)
	echo "unknown scenario $NAME"
	exit 2
	;;
esac
echo "ok $NAME"
