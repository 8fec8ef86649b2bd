#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""boot-profile: where the guest kernel's own boot goes, seen from outside.

The guest's clocks lag the TSC until the kernel switches clocksource
(boot_budget.py), so its own stamps cannot say when it started or what its
early boot costs. This samples the vCPU's instruction pointer instead,
through a second QMP monitor (`info registers` every BOOT_PROFILE_GAP_MS,
2 ms by default, one command at a time), on the host's clock.

Each boot is `vigil run -q --accel tcg --rootfs image --append nokaslr
--events FILE --qemu-arg -qmp --qemu-arg unix:SOCK,server=on,wait=off --
true`. Symbols come from /proc/kallsyms of one more boot with `nokaslr`
(`vigil run -q --rootfs image --append nokaslr -- cat /proc/kallsyms`), so
the addresses of every boot match them. Times are ms from the session's
start (just before QEMU's exec; an event's mono_ns - t_ns).

Per boot: the first sample inside the kernel (its PVH entry runs at the
physical load address, 16 MiB with nokaslr), the first in its TSC
calibration, and the first in user space (the agent as /init). Then the
share of each function over the kernel's part of all boots (its entry to
the first user-space sample), the 15 largest. A sample is the function
the vCPU was in, not its callers. The monitor answers once QEMU's main loop
runs, which is when the vCPU starts: a kernel entry a few ms after the
first sample is the guest starting as soon as QEMU has set up.

Usage: boot_profile.py [BOOTS]   (2 by default; VIGIL and VIGIL_AGENT from
the environment, or the build tree's). Last line, machine-read (medians):
  boot-profile: boots=N samples=S monitor_ms=M kernel_entry_ms=E
  entry_to_tsc_ms=T entry_to_user_ms=U apic_calibration_pct=A
(monitor_ms: the first sample, QEMU's own start; entry_to_tsc_ms over the
boots whose samples caught the calibration)
(apic_calibration_pct: samples in setup_boot_APIC_clock, where the local
APIC timer is calibrated against PIT ticks, as a share of the kernel part).
"""
import bisect
import collections
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIGIL = os.environ.get("VIGIL", os.path.join(TOP, "build/host/cli/vigil"))
os.environ.setdefault("VIGIL_AGENT", os.path.join(TOP, "build/guest/vigil-agent"))
GAP = float(os.environ.get("BOOT_PROFILE_GAP_MS", "2")) / 1e3
BASE = [VIGIL, "run", "-q", "--accel", "tcg", "--rootfs", "image", "--append", "nokaslr"]
PHYS_LOAD = 0x1000000          # where a nokaslr x86-64 kernel is loaded
KERNEL_VIRT = 0xffffffff80000000
TSC = ("tsc_early_init", "native_calibrate_cpu_early", "determine_cpu_tsc_frequencies",
       "quick_pit_calibrate", "pit_hpet_ptimer_calibrate_cpu", "pit_calibrate_tsc")


def symbols():
    out = subprocess.run(BASE + ["--", "cat", "/proc/kallsyms"], check=True,
                         capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        w = line.split()
        if len(w) == 3 and w[1] in "tTwW" and int(w[0], 16):
            syms.append((int(w[0], 16), w[2].split(".")[0]))
    if len(syms) < 1000:
        sys.exit("boot-profile: the guest's /proc/kallsyms gave %d text symbols" % len(syms))
    syms.sort()
    return [a for a, _ in syms], [n for _, n in syms]


def name(rip, syms, in_kernel):
    addrs, names = syms
    if rip >= KERNEL_VIRT:
        i = bisect.bisect_right(addrs, rip) - 1
        return names[i] if i >= 0 else "kernel"
    if PHYS_LOAD <= rip < PHYS_LOAD + (64 << 20):
        return "kernel (physical)"  # the PVH entry, up to startup_64's jump
    return "user" if in_kernel else "firmware"


def monitor(path, proc):
    while proc.poll() is None:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s.makefile("rw")
        except OSError:
            time.sleep(0.001)
    sys.exit("boot-profile: vigil ended before its second monitor came up")


def command(f, cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args} if args else {"execute": cmd}) + "\n")
    f.flush()
    while True:
        line = f.readline()
        if not line:
            raise EOFError
        m = json.loads(line)
        if "event" not in m:
            return m


def boot(syms, tmp):
    sock, events = os.path.join(tmp, "qmp.sock"), os.path.join(tmp, "events.jsonl")
    if os.path.exists(sock):
        os.unlink(sock)
    proc = subprocess.Popen(BASE + ["--events", events, "--qemu-arg", "-qmp", "--qemu-arg",
                                    f"unix:{sock},server=on,wait=off", "--", "true"])
    f = monitor(sock, proc)
    raw = []
    try:
        f.readline()  # the greeting
        command(f, "qmp_capabilities")
        while proc.poll() is None:
            r = command(f, "human-monitor-command", **{"command-line": "info registers"})
            rip = next((int(w[4:], 16) for w in r.get("return", "").split()
                        if w.startswith(("RIP=", "EIP="))), None)
            if rip is not None:
                raw.append((time.monotonic_ns(), rip))
            time.sleep(GAP)
    except (EOFError, OSError, ValueError):
        pass  # QEMU powered off
    proc.wait()
    with open(events) as ev:
        e = json.loads(ev.readline())
    zero = e["mono_ns"] - e["t_ns"]
    out, in_kernel = [], False
    for t, rip in raw:
        n = name(rip, syms, in_kernel)
        in_kernel = in_kernel or n not in ("firmware",)
        out.append(((t - zero) / 1e6, n))
    return out


def main():
    boots = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    syms = symbols()
    rows, hist, total = [], collections.Counter(), 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(boots):
            s = boot(syms, tmp)
            first = lambda pred: next((t for t, n in s if pred(n)), None)
            entry = first(lambda n: n != "firmware")
            tsc = first(lambda n: n in TSC)
            user = first(lambda n: n == "user")
            if None in (entry, user):
                print(f"boot {i + 1}: {len(s)} samples, no kernel entry or user space seen; "
                      "kept out")
                continue
            part = [n for t, n in s if entry <= t < user]
            hist.update(part)
            total += len(part)
            # The calibration takes a few ms: a sample may miss it.
            rows.append((s[0][0], entry, tsc - entry if tsc else None, user - entry))
            print(f"boot {i + 1}: {len(s)} samples from {s[0][0]:.0f} ms (the monitor up); "
                  f"kernel entry {entry:.0f} ms, TSC calibration " +
                  (f"+{tsc - entry:.0f}" if tsc else "not sampled") +
                  f", user space +{user - entry:.0f}")
    if not rows:
        sys.exit("boot-profile: no complete boot")
    print(f"kernel part, {total} samples of {len(rows)} boots:")
    for n, c in hist.most_common(15):
        print(f"  {100 * c / total:5.1f} %  {n}")
    def med(k):
        v = [r[k] for r in rows if r[k] is not None]
        return statistics.median(v) if v else float("nan")
    print(f"boot-profile: boots={len(rows)} samples={total} monitor_ms={med(0):.0f} "
          f"kernel_entry_ms={med(1):.0f} entry_to_tsc_ms={med(2):.0f} "
          f"entry_to_user_ms={med(3):.0f} "
          f"apic_calibration_pct={100 * hist['setup_boot_APIC_clock'] / total:.1f}")


if __name__ == "__main__":
    main()
