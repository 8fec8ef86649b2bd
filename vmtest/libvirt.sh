#!/bin/sh
# SPDX-License-Identifier: MIT
#
# `vigil watch` against a real libvirtd (and a real Prometheus): each
# scenario starts what it needs itself (no systemd here), boots transient
# TCG domains from `vigil initramfs` images with the agent as PID 1, and
# checks what watch reports in events, verdicts, /metrics and /status.
#
#   libvirt.sh NAME     testdriver | fleet | prometheus | valgrind
#
# Environment: VIGIL, VIGIL_AGENT (as scenarios.sh). Exit 0 pass, 1 fail,
# 77 skipped (no libvirtd, no QEMU driver, no kernel, no prometheus).
set -u

VIGIL=${VIGIL:?set VIGIL to the vigil binary}
export VIGIL_AGENT=${VIGIL_AGENT:?set VIGIL_AGENT to the static agent}
NAME=${1:?usage: libvirt.sh NAME}
TOP=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/vigil-libvirt.XXXXXX)
TAG=vt$$
WATCH=
PROM=
cd "$WORK" || exit 1

cleanup() {
	[ -n "$WATCH" ] && kill "$WATCH" 2>/dev/null && wait "$WATCH" 2>/dev/null
	[ -n "$PROM" ] && kill "$PROM" 2>/dev/null && wait "$PROM" 2>/dev/null
	for d in $(virsh -q list --name 2>/dev/null | grep "^$TAG-"); do
		virsh -q destroy "$d" >/dev/null 2>&1
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL $NAME: $*"
	for f in watch.err events.jsonl metrics.txt status.txt; do
		[ -f "$f" ] && { echo "--- $f (tail)"; tail -n 25 "$f" | cut -c1-300; }
	done
	exit 1
}

skip() {
	echo "skip: $*"
	exit 77
}

# A free loopback port (the kernel picks one; good enough for a test).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Wait up to $1 seconds for the command in the remaining words to succeed.
wait_for() {
	t=$1
	shift
	i=0
	while [ "$i" -lt "$((t * 10))" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# libvirtd as ../shared/DESIGN.md describes, started if it is not running.
libvirt_up() {
	command -v libvirtd >/dev/null && command -v virsh >/dev/null ||
		skip "no libvirtd/virsh (Debian: libvirt-daemon-driver-qemu libvirt-clients)"
	[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] ||
		skip "no libvirt QEMU driver (libvirt-daemon-driver-qemu)"
	[ "$(id -u)" = 0 ] || skip "needs root (qemu:///system)"
	id libvirt-qemu >/dev/null 2>&1 || useradd -r -M libvirt-qemu
	mkdir -p /var/log/libvirt
	conf=/etc/libvirt/qemu.conf
	if ! grep -q '^stdio_handler *= *"file"' "$conf" 2>/dev/null; then
		printf '# vigil tests: run QEMU as root, its stdio to files\nuser = "root"\ngroup = "root"\nstdio_handler = "file"\n' >>"$conf"
	fi
	if ! virsh -q -c qemu:///system version >/dev/null 2>&1; then
		libvirtd -d || fail "libvirtd would not start"
		wait_for 30 virsh -q -c qemu:///system version || fail "libvirtd does not answer"
	fi
	export LIBVIRT_DEFAULT_URI=qemu:///system
}

KERNEL=${VIGIL_KERNEL:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)}

# domain NAME SCRIPT: a transient domain running SCRIPT as its workload.
domain() {
	name=$TAG-$1
	cp "$2" "$WORK/$1.wl"
	chmod +x "$WORK/$1.wl"
	img=$("$VIGIL" initramfs --add "$WORK/$1.wl:/bin/wl" 2>/dev/null | tail -n 1)
	[ -f "$img" ] || fail "vigil initramfs failed"
	cat >"$WORK/$1.xml" <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$KERNEL</kernel><initrd>$img</initrd>
    <cmdline>console=ttyS0 loglevel=4 panic=-1 -- /bin/wl</cmdline></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff><on_crash>destroy</on_crash>
  <devices>
    <serial type='pty'/>
    <channel type='unix'><source mode='bind' path='$WORK/$1.sock'/><target type='virtio' name='org.vigil.bulk.0'/></channel>
  </devices>
</domain>
EOF
	virsh -q create "$WORK/$1.xml" >/dev/null || fail "cannot create domain $name"
}

# The workloads: three processes beat every 200 ms; in "stalls" one is
# stopped after 3 s; "agentkill" kills its agent (its parent) after 6 s.
cat >stalls.sh <<'EOF'
#!/bin/sh
vigil-agent snapshot --kind cpu --tag regs && echo cpu-ok
vigil-agent snapshot --kind memory --tag mem --timeout 60s && echo mem-ok
vigil-agent beat --every 200 & A=$!
vigil-agent beat --every 200 & B=$!
vigil-agent beat --every 200 &
sleep 3
kill -STOP $B
echo "stopped $B"
sleep 100000
EOF
cat >healthy.sh <<'EOF'
#!/bin/sh
vigil-agent beat --every 200 &
vigil-agent beat --every 200 &
sleep 100000
EOF
cat >agentkill.sh <<'EOF'
#!/bin/sh
vigil-agent beat --every 200 &
vigil-agent beat --every 200 &
sleep 6
kill -9 $PPID
sleep 100000
EOF

start_watch() {
	PORT=$(free_port)
	${UNDER:-} "$VIGIL" watch --stall-threshold 3s --metrics "127.0.0.1:$PORT" --out-dir out \
		--events events.jsonl "$@" >watch.out 2>watch.err &
	WATCH=$!
	wait_for "${START_WAIT:-10}" grep -q "serving /metrics" watch.err || fail "watch did not start"
}

metrics() {
	curl -sf "http://127.0.0.1:$PORT/metrics" >metrics.txt
}

# value of a metric line "NAME{...} V" matching a pattern
metric() {
	metrics && grep "^$1" metrics.txt | head -n 1 | awk '{print $NF}'
}

events_of() {
	grep "\"domain\":\"$TAG-$1\"" events.jsonl
}

case "$NAME" in
testdriver)
	# libvirt's built-in test driver: no channels; watch starts, serves
	# valid metrics and reports zero guests
	command -v promtool >/dev/null || skip "no promtool (Debian: prometheus)"
	start_watch --connect test:///default
	metrics || fail "no /metrics"
	promtool check metrics <metrics.txt >promtool.txt 2>&1 || fail "promtool: $(cat promtool.txt)"
	grep -q '^vigil_libvirt_connected 1' metrics.txt || fail "not connected to test:///default"
	grep -q 'domain=' metrics.txt && fail "a guest series with no guest"
	"$VIGIL" status --metrics "127.0.0.1:$PORT" >status.txt || fail "vigil status failed"
	grep -q '0 domain' status.txt || fail "status: $(cat status.txt)"
	# the events file rotated: SIGHUP opens it afresh, watch goes on
	[ -f events.jsonl ] || fail "--events FILE was not created"
	mv events.jsonl events.jsonl.1
	kill -HUP $WATCH
	wait_for 5 test -f events.jsonl || fail "SIGHUP did not open the events file afresh"
	kill -0 $WATCH || fail "watch ended on SIGHUP"
	metrics || fail "no /metrics after SIGHUP"
	;;
fleet)
	libvirt_up
	[ -n "$KERNEL" ] || skip "no guest kernel"
	printf '#!/bin/sh\necho "$@" >>%s/onstall.txt\n' "$WORK" >onstall.sh
	chmod +x onstall.sh
	start_watch --on-stall-exec "$WORK/onstall.sh {domain} {pid} {uuid}"
	domain a stalls.sh
	domain b agentkill.sh
	# a's stopped process stalls; only a's
	wait_for 90 sh -c "grep '\"domain\":\"$TAG-a\"' events.jsonl | grep -q '\"event\":\"stall\"'" ||
		fail "no stall reported for $TAG-a"
	wait_for 60 sh -c "grep '\"domain\":\"$TAG-b\"' events.jsonl | grep -q '\"event\":\"agent_restart\"'" ||
		fail "no agent restart in $TAG-b"
	sleep 2
	[ "$(metric "vigil_tracker_stalled{domain=\"$TAG-a\"}")" = 1 ] || fail "a: processes_stalled"
	# the guest's snapshots through libvirt: CPU state and a memory dump
	ls out/$TAG-a-*/*/snapshots/regs-*-cpu.txt >/dev/null 2>&1 || fail "no CPU state snapshot"
	grep -q 'RIP=' out/$TAG-a-*/*/snapshots/regs-*-cpu.txt || fail "the CPU state has no registers"
	[ "$(head -c 4 out/$TAG-a-*/*/snapshots/mem-*.elf | od -An -c | tr -d ' ')" = '177ELF' ] ||
		fail "the memory dump is not an ELF file"
	pid=$(events_of a | grep '"event":"stall"' | head -n 1 | sed 's/.*"pid":\([0-9]*\),.*/\1/')
	wait_for 10 grep -q "^$TAG-a $pid " onstall.txt || fail "--on-stall-exec did not run for $TAG-a $pid"
	grep -q "^$TAG-b" onstall.txt && fail "--on-stall-exec ran for b"
	[ "$(metric "vigil_tracker_stalled{domain=\"$TAG-b\"}")" = 0 ] || fail "b: processes_stalled"
	[ "$(metric "vigil_agent_epoch{domain=\"$TAG-b\"}")" = 2 ] || fail "b: agent epoch not 2"
	promtool check metrics <metrics.txt >promtool.txt 2>&1 || fail "promtool: $(cat promtool.txt)"
	events_of b | grep -q '"event":"stall"' && fail "b reported a stall (agent restart)"
	# b suspended longer than the threshold: no stall
	virsh -q suspend "$TAG-b" >/dev/null || fail "cannot suspend b"
	sleep 5
	[ "$(metric "vigil_domain_paused{domain=\"$TAG-b\"}")" = 1 ] || fail "b: not paused"
	virsh -q resume "$TAG-b" >/dev/null
	sleep 2
	events_of b | grep -q '"event":"stall"' && fail "b stalled while suspended"
	"$VIGIL" status --metrics "127.0.0.1:$PORT" >status.txt || fail "vigil status failed"
	grep "$TAG-a" status.txt | grep -q "1 stalled" || fail "status does not show a's stall"
	# why: the stopped process is classified (the events, the stderr line, status)
	grep "$TAG-a" status.txt | grep -q "silent [0-9.]* s stopped" ||
		fail "status does not say the stall's class: $(grep "$TAG-a" status.txt)"
	grep -q "$TAG-a: process $pid stalled: stopped" watch.err ||
		fail "watch did not say the class of $pid's stall"
	# a destroyed and started again: a final verdict, then a new run
	virsh -q destroy "$TAG-a" >/dev/null
	wait_for 20 sh -c "ls out/$TAG-a-*/*/verdict.json" || fail "no verdict for a's first run"
	grep -q '"end":"destroyed"' out/$TAG-a-*/*/verdict.json || fail "a's verdict: no end"
	grep -q '"outcome":"PROCESS_STALL"' out/$TAG-a-*/*/verdict.json || fail "a's verdict: no stall"
	virsh -q create "$WORK/a.xml" >/dev/null || fail "cannot start a again"
	wait_for 30 sh -c "[ \$(ls -d out/$TAG-a-*/*/ | wc -l) = 2 ]" || fail "no second run of a"
	# libvirtd restarted: watch reconnects and carries on
	pkill -x libvirtd
	wait_for 10 grep -q "lost the connection" watch.err || fail "the lost connection not seen"
	libvirtd -d
	wait_for 40 grep -q "connected to libvirtd again" watch.err || fail "no reconnection"
	[ "$(metric vigil_libvirt_connected)" = 1 ] || fail "not connected after the restart"
	wait_for 30 sh -c "curl -sf http://127.0.0.1:$PORT/metrics | grep -q '^vigil_agent_connected{domain=\"$TAG-b\"} 1'" ||
		fail "b's agent not connected again after libvirtd's restart"
	# watch SIGKILLed (no goodbye) and started again: it takes both
	# channels again (libvirtd let go of the dead client's) and goes on
	kill -KILL $WATCH
	wait $WATCH 2>/dev/null
	n_before=$(wc -l <events.jsonl)
	mv watch.err watch1.err
	start_watch
	wait_for 60 sh -c "curl -sf http://127.0.0.1:$PORT/metrics | grep -q '^vigil_agent_connected{domain=\"$TAG-b\"} 1'" ||
		fail "b's agent not connected again after watch was killed"
	wait_for 30 sh -c "curl -sf http://127.0.0.1:$PORT/metrics | grep -q '^vigil_agent_connected{domain=\"$TAG-a\"} 1'" ||
		fail "a's agent not connected again after watch was killed"
	[ "$(wc -l <events.jsonl)" -gt "$n_before" ] || fail "the events file was not appended to"
	sleep 2
	# nothing of it (agent killed, suspended, libvirtd gone, watch killed)
	# was b's stall
	events_of b | grep -q '"event":"stall"' && fail "b reported a stall"
	;;
valgrind)
	# vigil watch under valgrind memcheck: one domain that stalls, its run
	# ended by a destroy, /metrics and /status served, SIGHUP, SIGTERM; no
	# invalid access, no leak (definite or indirect). Waits scaled: watch
	# runs some 20 times slower (the guests, in QEMU, do not). vigil runs
	# vigil-fleet for watch: valgrind follows that exec, and no other
	# program (the system's, such as virsh for a dump).
	libvirt_up
	command -v valgrind >/dev/null || skip "no valgrind (Debian: valgrind)"
	[ -n "$KERNEL" ] || skip "no guest kernel"
	UNDER="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect
		--trace-children=yes --trace-children-skip=/bin/*,/usr/*,/sbin/*
		--error-exitcode=99 --log-file=$WORK/valgrind.txt" START_WAIT=60 start_watch
	readlink "/proc/$WATCH/exe" | grep -q memcheck ||
		fail "vigil-fleet runs outside valgrind ($(readlink "/proc/$WATCH/exe"))"
	domain a stalls.sh
	wait_for 180 sh -c "grep -q '\"event\":\"stall_classified\"' events.jsonl" ||
		fail "no classified stall under valgrind"
	metrics || fail "no /metrics"
	"$VIGIL" status --metrics "127.0.0.1:$PORT" >status.txt || fail "vigil status failed"
	grep -q "$TAG-a" status.txt || fail "status: $(cat status.txt)"
	virsh -q destroy "$TAG-a" >/dev/null
	wait_for 60 sh -c "ls out/$TAG-a-*/*/verdict.json" || fail "no verdict for a's run"
	kill -HUP $WATCH
	sleep 1
	kill -TERM $WATCH
	wait $WATCH
	got=$?
	WATCH=
	[ -f valgrind.txt ] || fail "watch did not run under valgrind"
	[ "$got" = 0 ] || fail "watch under valgrind exited $got: $(grep -v '^--' valgrind.txt | head -30)"
	grep -q '==[0-9]*== ' valgrind.txt && fail "valgrind: $(head -40 valgrind.txt)"
	;;
prometheus)
	libvirt_up
	command -v prometheus >/dev/null && command -v promtool >/dev/null ||
		skip "no prometheus (Debian: prometheus)"
	[ -n "$KERNEL" ] || skip "no guest kernel"
	rules=$TOP/docs/vigil-alerts.yml
	promtool check rules "$rules" >promtool.txt 2>&1 || fail "rules: $(cat promtool.txt)"
	start_watch
	domain a stalls.sh
	PPORT=$(free_port)
	cat >prometheus.yml <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [ "$rules" ]
scrape_configs:
  - job_name: vigil
    static_configs: [ { targets: [ "127.0.0.1:$PORT" ] } ]
EOF
	prometheus --config.file=prometheus.yml --storage.tsdb.path=tsdb \
		--web.listen-address="127.0.0.1:$PPORT" >prom.log 2>&1 &
	PROM=$!
	wait_for 90 sh -c "grep '\"domain\":\"$TAG-a\"' events.jsonl | grep -q '\"event\":\"stall\"'" ||
		fail "no stall reported"
	q="http://127.0.0.1:$PPORT/api/v1/query"
	wait_for 30 sh -c "curl -sf '$q' --data-urlencode 'query=vigil_tracker_stalled > 0' | grep -q '$TAG-a'" ||
		fail "Prometheus has no stalled process for $TAG-a"
	# the example rule fires (pending or firing) for the stalled guest
	wait_for 30 sh -c "curl -sf '$q' --data-urlencode 'query=ALERTS{alertname=\"VigilProcessStalled\"}' | grep -q '$TAG-a'" ||
		fail "the VigilProcessStalled rule does not select $TAG-a"
	;;
*)
	echo "unknown scenario $NAME"
	exit 2
	;;
esac
echo "ok $NAME"
