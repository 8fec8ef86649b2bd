#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""boot-budget: where `vigil run`'s boot time goes, phase by phase.

Each boot is `vigil run -q --rootfs image --events - -- true` (PVH, vigil's
defaults) or the same with `--kernel-boot bzimage`, interleaved. From one
boot's events:

  host times (ns since the session began, just before QEMU starts):
    hello_host   the HELLO frame's arrival (SYS_RDY comes in the same read)
  guest times (the guest's clocks, from the kernel's first TSC reading,
  tsc_early_init, a few tens of ms after its entry):
    hello_guest  HELLO's guest_boottime_ns (taken as the agent sends it)
    dmesg ts_us of "Trying to unpack rootfs", "Freeing initrd memory",
    "Run /init as init process"
  the guest clocks' lag: until clocksource_done_booting (an fs_initcall)
  the kernel keeps time by its timer ticks (the jiffies clocksource), and
  under TCG ticks are lost while the vCPU runs long stretches with
  interrupts off, so both guest clocks fall behind the TSC: 270-410 ms
  here, all of it before the initramfs is unpacked. The kernel states it
  when it marks sched_clock stable (a late_initcall): "sched_clock: Marking
  stable (gtod, gtod_offset)->(raw, offset)", raw being TSC time. The
  boottime clock lags raw - gtod, the dmesg clock -offset. Every guest
  time here is moved onto TSC time by its lag (clock_lag is the boottime
  clock's), so the phases add up to the host's time.
  kernel clock start on the host's clock = hello_host - hello_guest - lag
  (the frame's trip is under a ms).

Phases: qemu_to_kernel (QEMU start, loading the kernel and initrd, the
entry path: real-mode setup and decompression for a bzImage, up to the
kernel's clock start), kernel_to_unpack
(kernel init before the initramfs), unpack, unpack_to_init (driver and
subsystem init after it), init_to_hello (the agent as PID 1: mounts, modules,
the port, HELLO), and ready (QEMU start to SYS_RDY on the host).

Per boot it also shows the whole run's wall time and the CPU time of vigil
and its children (QEMU), and the time one host core took to hash 32 MiB just
before the boot. Under TCG a boot is CPU-bound: a slow boot whose CPU time
grew with its wall time lost its time to the host under this machine (steal
is not reported here), one whose CPU time did not was waiting inside it.

With BOOT_BUDGET_OTHER=DIR (another build directory, e.g. of the tree
before a change), a further PVH boot per round with DIR's vigil and agent:
its medians are the table's "other" column, so a cut is measured against
what it replaces in the same interleaved run.

BOOT_BUDGET_ARGS adds words to every `vigil run` (split on spaces, e.g.
"--cpus 2").

Usage: boot_budget.py [BOOTS [WORDS]]   (VIGIL, VIGIL_AGENT from the
environment, or the build tree's). With WORDS (kernel parameters, e.g.
vigil.flows_bpf=off), a third boot per round: PVH with `--append WORDS`.
Prints a table, then one machine-read last line:
  boot-budget: qemu_to_kernel_ms=Q kernel_to_unpack_ms=K unpack_ms=U
  unpack_to_init_ms=I init_to_hello_ms=H ready_ms=R bzimage_qemu_to_kernel_ms=BQ
  bzimage_ready_ms=BR [append_init_to_hello_ms=AH append_ready_ms=AR]
  init_to_modules_ms=IM modules_to_port_ms=MP port_to_hello_ms=PH
  vigil_start_ms=VS (vigil's exec to QEMU's start, not in ready_ms)
  clock_lag_ms=L (how far the guest's boot clock fell behind, above)
(medians; PVH unless prefixed bzimage_ or append_).
"""
import json
import os
import statistics
import subprocess
import sys
import time
import hashlib

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIGIL = os.environ.get("VIGIL", os.path.join(TOP, "build/host/cli/vigil"))
os.environ.setdefault("VIGIL_AGENT", os.path.join(TOP, "build/guest/vigil-agent"))
# The phases of the last line; run_wall and run_cpu (the whole run, QEMU's
# exit included) are shown per boot and in the table only.
PHASES = ("qemu_to_kernel", "kernel_to_unpack", "unpack", "unpack_to_init",
          "init_to_hello", "ready")
# init_to_hello split by the agent's boot marks (a LOG line, docs/agent.md):
# PID 1's start to its modules loaded, then to the port open (the host's
# root entered between, with --rootfs host), then to HELLO (the kernel log,
# flows and the inspector opened). Added at the end of the last line.
# The marks are CLOCK_BOOTTIME, as HELLO's guest_boottime_ns; the dmesg
# stamps are the kernel's local clock. Each is moved onto TSC time by its
# own lag (above), so phases across the two (init_to_hello) are consistent.
SPLIT = ("init_to_modules", "modules_to_port", "port_to_hello", "vigil_start",
         "clock_lag")
MARKS = {
    "unpack_start": "Trying to unpack rootfs",
    "unpack_end": "Freeing initrd memory",
    "init": "Run /init as init process",
    "switch": "clocksource: Switched to clocksource",
    "stable": "sched_clock: Marking stable",
}


def clock_lags(text):
    """(boottime lag, dmesg lag) in ns from the kernel's "sched_clock:
    Marking stable (gtod, gtod_offset)->(raw, offset)" line."""
    nums = [int(w) for w in text.replace("(", " ").replace(")", " ").replace(",", " ")
            .replace("->", " ").split() if w.lstrip("-").isdigit()]
    if len(nums) != 4:
        return None
    gtod, _, raw, offset = nums
    return raw - gtod, -offset


def host_speed_ms():
    """The time one host core takes to hash 32 MiB just before a boot: under
    TCG a boot is CPU-bound, so a slow boot with a slow sample is the host's
    own speed at that moment, not the guest's work."""
    data = bytes(32 << 20)
    t = time.perf_counter()
    hashlib.sha256(data).digest()
    return (time.perf_counter() - t) * 1e3


def boot(bzimage, append=None, build=None):
    vigil = os.path.join(build, "host/cli/vigil") if build else VIGIL
    env = dict(os.environ)
    if build:
        env["VIGIL_AGENT"] = os.path.join(build, "guest/vigil-agent")
    cmd = [vigil, "run", "-q", "--accel", "tcg", "--rootfs", "image", "--events", "-"]
    cmd += os.environ.get("BOOT_BUDGET_ARGS", "").split()
    if bzimage:
        cmd += ["--kernel-boot", "bzimage"]
    if append:
        cmd += ["--append", append]
    t0 = time.monotonic()
    with subprocess.Popen(cmd + ["--", "true"], stdout=subprocess.PIPE, env=env,
                          stderr=subprocess.DEVNULL, text=True) as proc:
        lines, t_ready = [], None
        for line in proc.stdout:
            lines.append(line)
            if t_ready is None and '"event":"ready"' in line:
                t_ready = time.monotonic()
        stdout = "".join(lines)
        _, _, ru = os.wait4(proc.pid, 0)
        proc.returncode = 0
    # CPU time of vigil and everything it reaped (QEMU, its helpers): on
    # this host steal is not reported, so time taken by the host's other
    # tenants shows as more CPU time for the same boot, while a boot that
    # waits inside this machine shows as wall time without CPU time.
    cpu_ms = (ru.ru_utime + ru.ru_stime) * 1e3
    wall_ms = (time.monotonic() - t0) * 1e3
    ev = {}
    for line in stdout.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event") == "hello" and "hello" not in ev:
            ev["hello"] = (e["t_ns"], e["guest_boottime_ns"])
        elif e.get("event") == "ready" and "ready" not in ev:
            ev["ready"] = e["t_ns"]
        elif (e.get("event") == "output" and e.get("stream") == "log" and
              e.get("text", "").startswith("boot marks us:")):
            ev["marks"] = {k: int(v) for k, v in
                           (w.split("=") for w in e["text"].split(":", 1)[1].split())}
        elif e.get("event") == "output" and e.get("stream") == "dmesg":
            for k, text in MARKS.items():
                if k not in ev and e.get("text", "").startswith(text):
                    ev[k] = e["ts_us"] * 1000
                    if k == "stable":
                        ev["lags"] = clock_lags(e["text"])
    if (not all(k in ev for k in ("hello", "ready", *MARKS)) or t_ready is None or
            ev.get("lags") is None):
        return None
    m = ev.get("marks")  # an agent without boot marks (an older build): no split
    lag_boot, lag_dmesg = ev["lags"]
    # The lag grows only until the switch to a TSC clocksource; a dmesg
    # stamp before it would carry part of it (not seen here: unpacking
    # comes after).
    if ev["unpack_start"] < ev["switch"]:
        return None
    hello_host, hello_guest = ev["hello"]
    hello = hello_guest + lag_boot
    tsc = {k: ev[k] + lag_dmesg for k in ("unpack_start", "unpack_end", "init")}
    ms = lambda ns: ns / 1e6
    return {
        "qemu_to_kernel": ms(hello_host - hello),
        "kernel_to_unpack": ms(tsc["unpack_start"]),
        "unpack": ms(tsc["unpack_end"] - tsc["unpack_start"]),
        "unpack_to_init": ms(tsc["init"] - tsc["unpack_end"]),
        "init_to_hello": ms(hello - tsc["init"]),
        "clock_lag": ms(lag_boot),
        # vigil's own start: exec to the session's clock (just before QEMU)
        "vigil_start": (t_ready - t0) * 1e3 - ms(ev["ready"]),
        "init_to_modules": (m["modules"] - m["init"]) / 1e3 if m else float("nan"),
        "modules_to_port": (m["port"] - m["modules"]) / 1e3 if m else float("nan"),
        "port_to_hello": (m["hello"] - m["port"]) / 1e3 if m else float("nan"),
        "ready": ms(ev["ready"]),
        "run_wall": wall_ms,
        "run_cpu": cpu_ms,
    }


def main():
    boots = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    words = sys.argv[2] if len(sys.argv) > 2 else None
    other = os.environ.get("BOOT_BUDGET_OTHER")
    pvh, bz, ap, ot = [], [], [], []
    kinds = [("PVH    ", False, None, None, pvh), ("bzImage", True, None, None, bz)]
    if words:
        kinds.append(("append ", False, words, None, ap))
    if other:
        kinds.append(("other  ", False, None, other, ot))
    for i in range(boots):
        for name, bzimage, append, build, acc in kinds:
            speed = host_speed_ms()
            r = boot(bzimage, append, build)
            if r is None:
                print(f"boot {i + 1} ({name.strip()}): incomplete events (HELLO, SYS_RDY, a dmesg mark"
                      " or the sched_clock line missing, or unpacking before the clocksource switch)")
                continue
            acc.append(r)
            print(f"boot {i + 1} {name}: " +
                  " ".join(f"{k} {v:.0f}" for k, v in r.items()) +
                  f" host_sha256_32MiB {speed:.0f}", flush=True)
    if not pvh or not bz:
        print("boot-budget: no complete boot", file=sys.stderr)
        return 1
    def med(rs, k):
        v = [r[k] for r in rs if r[k] == r[k]]  # NaN: not measured (no boot marks)
        return statistics.median(v) if v else float("nan")
    print("phase (ms, median)        PVH    bzImage" + ("  other" if ot else ""))
    for k in pvh[0]:
        print(f"  {k:<22} {med(pvh, k):7.0f} {med(bz, k):9.0f}" +
              (f" {med(ot, k):7.0f}" if ot else ""))
    tail = ""
    if ap:
        tail = (f" append_init_to_hello_ms={med(ap, 'init_to_hello'):.0f}" +
                f" append_ready_ms={med(ap, 'ready'):.0f}")
    print("boot-budget: " + " ".join(f"{k}_ms={med(pvh, k):.0f}" for k in PHASES) +
          f" bzimage_qemu_to_kernel_ms={med(bz, 'qemu_to_kernel'):.0f}" +
          f" bzimage_ready_ms={med(bz, 'ready'):.0f}" + tail +
          "".join(f" {k}_ms={med(pvh, k):.0f}" for k in SPLIT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
