#!/usr/bin/env bash
# Installs what vigil needs to build, test and boot guests on Debian 12
# (run as root). Idempotent: when everything is there it changes nothing.
set -euo pipefail

packages=(
	# build
	build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
	clang-format
	# libraries
	libcmocka-dev libjson-c-dev libvirt-dev libmicrohttpd-dev linux-libc-dev
	nettle-dev libxml2-dev libsystemd-dev libcurl4-gnutls-dev
	# reading distro kernels (their compressed payloads) and module trees
	liblz4-dev libzstd-dev liblzma-dev zlib1g-dev libkmod-dev
	# depmod for module trees without indexes; xz and zstd for compressed
	# modules (the image carries them decompressed) and the test fixtures
	kmod xz-utils zstd
	# promtool and the server: /metrics checked in the tests, scraped in a vmtest
	prometheus
	# the static guest agent
	musl-tools
	# guests: QEMU (and its virtiofsd), the Debian cloud kernel, busybox for
	# the initramfs
	qemu-system-x86 linux-image-cloud-amd64 busybox-static
	# vigil watch's tests: a real libvirtd with the QEMU driver
	libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
	# programs nobody here wrote, run in guests by the vmtests
	python3 make stress-ng curl
	# the report's browser test: headless Chromium and xmllint
	chromium libxml2-utils
	# memcheck of vigil run and vigil watch; gdb for --on-stall debug's vmtest
	valgrind gdb
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "setup: all ${#packages[@]} packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing packages: ${missing[*]}" >&2
	echo "setup: run as root (or: sudo $0)" >&2
	exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
