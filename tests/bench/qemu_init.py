#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""qemu-init: how long QEMU takes to start before the guest runs at all.

QEMU is started as `vigil run` starts it (microvm, TCG, -nodefaults, the
same kernel and initramfs) but with -S: the guest never runs, and the
time from the process's start to QMP's greeting is QEMU's own start with
its loading of the kernel and the initramfs. N rounds (default 5) for the
kernel vigil boots by default (its cached vmlinux, PVH) and for the
bzImage it comes from; medians.

Usage: qemu_init.py [N]   (VIGIL from the environment, or the build tree's)
Last line: qemu-init: pvh_ms=P bzimage_ms=B
"""
import glob
import os
import socket
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIGIL = os.environ.get("VIGIL", os.path.join(TOP, "build/host/cli/vigil"))
os.environ.setdefault("VIGIL_AGENT", os.path.join(TOP, "build/guest/vigil-agent"))


def start_ms(kernel, initrd):
    a, b = socket.socketpair()
    os.set_inheritable(b.fileno(), True)
    t0 = time.monotonic()
    q = subprocess.Popen(
        ["qemu-system-x86_64", "-M", "microvm,x-option-roms=off", "-accel", "tcg",
         "-m", "512", "-nodefaults", "-no-user-config", "-display", "none", "-S",
         "-kernel", kernel, "-initrd", initrd,
         "-chardev", "socket,id=m,fd=%d" % b.fileno(), "-mon", "chardev=m,mode=control"],
        pass_fds=[b.fileno()])
    b.close()
    a.makefile("r").readline()  # the greeting: machine created, images loaded
    ms = (time.monotonic() - t0) * 1000
    q.kill()
    q.wait()
    a.close()
    return ms


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    image = subprocess.run([VIGIL, "initramfs", "-q"], capture_output=True, text=True,
                           check=True).stdout.strip().splitlines()[-1]
    subprocess.run([VIGIL, "run", "-q", "--accel", "tcg", "--rootfs", "image", "--", "true"],
                   check=False)  # the vmlinux cache is filled
    cache = os.path.dirname(image)
    vmlinux = max(glob.glob(os.path.join(cache, "vmlinux-*.elf")), key=os.path.getmtime)
    bzimage = sorted(glob.glob("/boot/vmlinuz-*"))[-1]
    pvh, bz = [], []
    for _ in range(n):
        pvh.append(start_ms(vmlinux, image))
        bz.append(start_ms(bzimage, image))
    print("pvh:", " ".join("%.0f" % x for x in pvh), "ms;", vmlinux)
    print("bzimage:", " ".join("%.0f" % x for x in bz), "ms;", bzimage)
    print("qemu-init: pvh_ms=%.0f bzimage_ms=%.0f" % (statistics.median(pvh),
                                                       statistics.median(bz)))


if __name__ == "__main__":
    main()
