/* SPDX-License-Identifier: MIT */
/*
 * Fake kernel modules for test_kmod, test_ktree and test_initramfs: each
 * is this file compiled with one KFX_<name> defined (tests/cli/
 * CMakeLists.txt) into an ELF relocatable object named <name>.ko. They are
 * never loaded; they carry what depmod(8) reads from a real module:
 *   - .modinfo strings (alias=, softdep=, license=);
 *   - exported symbols, as names in __ksymtab_strings (depmod's reading
 *     when there are no __crc_ symbols);
 *   - undefined references to other modules' exports, which become
 *     modules.dep lines.
 * The tests index them with the system's depmod at test time, so the
 * fixtures are what depmod makes of modules, not hand-written indexes.
 */

#define MODINFO(tag, s)                                                                            \
	static const char kfx_##tag[] __attribute__((section(".modinfo"), used, aligned(1))) = s
#define EXPORTS(s)                                                                                 \
	static const char kfx_exports[]                                                            \
	    __attribute__((section("__ksymtab_strings"), used, aligned(1))) = s
#define USES(sym)                                                                                  \
	extern void sym(void);                                                                     \
	void *kfx_use_##sym = (void *)sym

#if defined(KFX_virtio_ring)
MODINFO(license, "license=GPL");
EXPORTS("vring_create_virtqueue");
void vring_create_virtqueue(void)
{
}
#elif defined(KFX_virtio)
MODINFO(license, "license=GPL");
EXPORTS("register_virtio_driver");
USES(vring_create_virtqueue);
void register_virtio_driver(void)
{
}
#elif defined(KFX_virtio_pci_modern_dev)
MODINFO(license, "license=GPL");
EXPORTS("vp_modern_probe");
void vp_modern_probe(void)
{
}
#elif defined(KFX_virtio_pci_legacy_dev)
MODINFO(license, "license=GPL");
EXPORTS("vp_legacy_probe");
void vp_legacy_probe(void)
{
}
#elif defined(KFX_virtio_pci)
MODINFO(alias, "alias=pci:v00001AF4d*sv*sd*bc*sc*i*");
USES(register_virtio_driver);
USES(vp_modern_probe);
USES(vp_legacy_probe);
USES(vring_create_virtqueue);
#elif defined(KFX_virtio_console)
MODINFO(alias, "alias=virtio:d00000003v*");
MODINFO(softdep, "softdep=pre: pvpanic post: tcp_diag");
USES(register_virtio_driver);
USES(vring_create_virtqueue);
#elif defined(KFX_pvpanic)
MODINFO(license, "license=GPL");
#elif defined(KFX_inet_diag)
MODINFO(license, "license=GPL");
EXPORTS("inet_diag_register");
void inet_diag_register(void)
{
}
#elif defined(KFX_tcp_diag)
MODINFO(alias, "alias=net-pf-16-proto-4-type-2-6");
USES(inet_diag_register);
#elif defined(KFX_cyc_a)
EXPORTS("cyc_a_fn");
USES(cyc_b_fn);
void cyc_a_fn(void)
{
}
#elif defined(KFX_cyc_b)
EXPORTS("cyc_b_fn");
USES(cyc_a_fn);
void cyc_b_fn(void)
{
}
#else
#error "define one KFX_<module>"
#endif
