# SPDX-License-Identifier: GPL-2.0-only
#
# khup top-level build. 'make help' lists the targets.
#
# Set-up targets (deps, kernel, criu) need root on Debian 12; they are
# idempotent and cached in $(KHUP_CACHE), so repeating them is cheap.

KHUP_CACHE ?= /var/cache/khup
export KHUP_CACHE

BUILD   := $(CURDIR)/build
# The test kernels; 7.2-debug is 7.2 with KASAN, lockdep, kmemleak and
# fault injection (kernel/config/debug.config), for the fault-injection
# test in make test and for make test-debug.
KERNELS := 7.2 7.3 7.2-debug
# The benchmarks' kernel: the 7.2 test kernel without debug checks
# (kernel/config/bench.config).
BENCH_KERNEL := 7.2-bench
DEBUG_KERNEL := 7.2-debug
# make zdtm's kernel: the 7.2 test kernel plus what CRIU's whole test suite
# needs (namespaces with conntrack, user namespaces, hugetlbfs, iptables;
# kernel/config/zdtm.config); make test keeps the test kernels.
ZDTM_KERNEL := 7.2-zdtm
VMFLAGS ?=
# Where make install puts things. khup's patched CRIU and its plugin go to
# KHUPLIBDIR, where no stock CRIU looks (see install-criu).
PREFIX ?= /usr/local
KHUPLIBDIR ?= $(PREFIX)/lib/khup

.PHONY: all help deps deps-build kernel kernel-bench kernel-zdtm modules-zdtm test-debug criu zdtm-build zdtm plugin modules modules-bench progs programs userspace man unit check-install vmtest test demo bench install install-programs install-plugin install-module install-dkms install-criu uninstall check-shell clean

all: userspace man

# What 'make install' installs: khupd, khupctl, khup-upgrade, khup-tracedat.
programs:
	@for d in daemon tools; do $(MAKE) -C $$d O=$(BUILD)/$$d KHUPLIBDIR=$(KHUPLIBDIR) || exit 1; done

# The userspace parts and the VM tests' programs. The CRIU plugin needs a
# built CRIU tree, so it comes with 'make plugin' (part of test, demo and
# bench).
userspace: programs progs

# Man pages, from man/*.scd (scdoc).
man:
	@$(MAKE) -C man O=$(BUILD)/man

help:
	@echo 'make            build the userspace parts and the man pages'
	@echo 'make deps       install Debian packages to build and test; fetch kernel/CRIU sources (root)'
	@echo 'make deps-build install only what make install needs (root)'
	@echo 'make kernel     build the test kernels: 7.2, 7.3 and 7.2-debug (KASAN, lockdep, kmemleak, fault injection) (cached)'
	@echo 'make kernel-bench  build the benchmarks kernel, 7.2 without debug checks (cached)'
	@echo "make kernel-zdtm   build make zdtm's kernel, 7.2 with what all of ZDTM needs (cached)"
	@echo 'make criu       build patched CRIU (cached)'
	@echo 'make plugin     build the CRIU plugin khup_plugin.so'
	@echo "make zdtm-build build CRIU's test suite ZDTM from the CRIU source (build/zdtm)"
	@echo 'make zdtm       every ZDTM static test with --kho on 7.2-zdtm, one VM per core (long; tests/zdtm/)'
	@echo 'make modules    build khup.ko for each test kernel'
	@echo 'make unit       run the host unit tests'
	@echo 'make check-install  stage make install in a temporary DESTDIR; check man, --version, completion, unit'
	@echo 'make check-shell    shellcheck khup-upgrade, its library and khup-restore-generator'
	@echo 'make vmtest     run the VM tests (VMFLAGS=... passes options to tests/vm/run)'
	@echo 'make test       set-up, unit tests, install and shell checks, checkpatch, VM tests, bench smoke'
	@echo 'make test-debug the module, criu and daemon VM tests and the fault-injection tests on the debug kernel'
	@echo '                (DEBUG_PART=module or DEBUG_PART=userspace: one half of them)'
	@echo 'make demo       set-up, then the end-to-end demo in a VM'
	@echo 'make bench      set-up, then the benchmarks (BENCHMARKS.md, bench/results/)'
	@echo 'make install    install khupd (unit, settings), khupctl, khup-upgrade, man pages,'
	@echo '                bash completion, the patched CRIU and its plugin (PREFIX, DESTDIR;'
	@echo '                CRIU, plugin and khup-upgrade'"'"'s library in KHUPLIBDIR, default PREFIX/lib/khup)'
	@echo 'make install-programs  the same without CRIU and the plugin (no CRIU build)'
	@echo 'make install-module  build khup.ko for KREL (default: the running kernel) and install it'
	@echo 'make install-dkms     khup.ko through DKMS, for every kernel with KHO (now and later)'
	@echo 'make install-criu     install the patched CRIU as KHUPLIBDIR/criu (not on PATH)'
	@echo 'make uninstall        remove what make install put there (keeps /etc/khup/khupd.conf)'

# Everything the tests need; deps-build only what building and installing
# needs (scripts/deps).
deps:
	scripts/deps

deps-build:
	scripts/deps build

kernel: deps
	@for k in $(KERNELS); do scripts/build-kernel $$k >/dev/null || exit 1; done

criu: deps-build
	scripts/build-criu >/dev/null
	scripts/build-criu --stock >/dev/null

# CRIU's test suite ZDTM, from the CRIU source the build has (build/zdtm),
# for the zdtm-* VM tests and criu-kho-modes (pycriu, libcriu).
zdtm-build: criu
	@scripts/build-zdtm >/dev/null

# Every static ZDTM test through zdtm.py with --kho on dump and restore, on
# ZDTM_KERNEL, split over ZDTM_JOBS VMs (default one per core;
# scripts/run-zdtm; 35 to 48 min on 2 cores; tests/zdtm/exclude lists
# what is not run).
zdtm: modules-zdtm plugin userspace zdtm-build
	scripts/run-zdtm --kernel $(ZDTM_KERNEL) $(VMFLAGS)

plugin: criu
	@$(MAKE) -C criu-plugin CRIU_DIR=$$(scripts/build-criu --path) O=$(BUILD)/criu-plugin

# khup.ko, once per test kernel, into build/modules/<uname -r>/. The
# kernel directory comes from this checkout's config (a cache hit after
# 'kernel'), not from the last build of the series, which another checkout
# may have made with a different config.
modules: kernel
	@for k in $(KERNELS); do \
		d=$$(scripts/build-kernel $$k 2>/dev/null) || exit 1; \
		$(MAKE) -C kernel KDIR=$$d/build KHUP_TEST_HOOKS=y \
			KHUP_OUT=$(BUILD)/modules/$$(cat $$d/release) || exit 1; \
	done

kernel-bench: deps
	@scripts/build-kernel $(BENCH_KERNEL) >/dev/null

kernel-zdtm: deps
	@scripts/build-kernel $(ZDTM_KERNEL) >/dev/null

# khup.ko for make zdtm's kernel, built as for the test kernels.
modules-zdtm: kernel-zdtm
	@d=$$(scripts/build-kernel $(ZDTM_KERNEL) 2>/dev/null) && \
		$(MAKE) -C kernel KDIR=$$d/build KHUP_TEST_HOOKS=y \
			KHUP_OUT=$(BUILD)/modules/$$(cat $$d/release)

# khup.ko for the benchmarks kernel: a production build, no test hooks.
modules-bench: kernel-bench
	@d=$$(scripts/build-kernel $(BENCH_KERNEL) 2>/dev/null) && \
		$(MAKE) -C kernel KDIR=$$d/build KHUP_OUT=$(BUILD)/modules/$$(cat $$d/release)

progs:
	@$(MAKE) -C tests/vm/progs O=$(BUILD)/progs

unit:
	@$(MAKE) --no-print-directory -C tests/unit O=$(BUILD)/unit run

# What make install puts on a host, staged in a temporary DESTDIR and
# checked there (seconds; part of make test).
check-install:
	@tests/host/install.sh

# The installed shell programs are shellcheck-clean (seconds; part of make
# test).
check-shell:
	@tests/host/shellcheck.sh

vmtest: kernel plugin modules userspace zdtm-build
	tests/vm/run $(VMFLAGS)

# Unit tests, checkpatch and the harness self-test first, then the VM tests
# and the benchmark smoke run (on the benchmarks' kernel, 7.2-bench); all always run so one failure does not hide
# another; the last line adds them up (scripts/run-tests).
test: kernel plugin modules modules-bench userspace zdtm-build
	scripts/run-tests $(VMFLAGS)

# The module, criu and daemon VM tests again on the debug kernel, where a
# KASAN, lockdep or kmemleak report fails the test; tests that name their
# own kernels keep them (module-faults-load kexecs from 7.2), the upgrades
# (7.3) are left out; timeouts x3 for KASAN's slowdown.
# The fuzzer (module-fuzz) runs FUZZ_OPS_DEBUG operations here instead of
# make test's default; module-stress and module-exec-race run as in make
# test, on the debug kernel. The whole set takes about 3.5 h on 2 cores,
# so it comes in two parts of about half that, which add up to it:
# DEBUG_PART=module (the module-* tests) and DEBUG_PART=userspace (criu-kho-*
# and daemon-*); empty (the default) runs both.
DEBUG_KERNELS := 7.2 $(DEBUG_KERNEL)
DEBUG_MODULE_TESTS = $(filter-out %upgrade.sh %scale.sh,$(wildcard tests/vm/tests/module-*.sh))
DEBUG_USERSPACE_TESTS = $(filter-out %upgrade.sh %scale.sh,$(wildcard \
	tests/vm/tests/criu-kho-*.sh tests/vm/tests/daemon-*.sh))
DEBUG_PART ?=
ifeq ($(DEBUG_PART),)
DEBUG_TESTS = $(DEBUG_MODULE_TESTS) $(DEBUG_USERSPACE_TESTS)
else ifeq ($(DEBUG_PART),module)
DEBUG_TESTS = $(DEBUG_MODULE_TESTS)
else ifeq ($(DEBUG_PART),userspace)
DEBUG_TESTS = $(DEBUG_USERSPACE_TESTS)
else
DEBUG_TESTS = $(error DEBUG_PART takes module or userspace (or nothing: both), not '$(DEBUG_PART)')
endif
FUZZ_OPS_DEBUG ?= 100000
test-debug: deps plugin userspace zdtm-build
	@$(MAKE) --no-print-directory modules KERNELS='$(DEBUG_KERNELS)'
	KHUP_FUZZ_OPS=$(FUZZ_OPS_DEBUG) tests/vm/run --kernel $(DEBUG_KERNEL) --timeout-factor 3 --jobs $$(nproc) $(VMFLAGS) $(DEBUG_TESTS)

demo: kernel plugin modules userspace
	tests/vm/run --show-output $(VMFLAGS) tests/vm/demo.sh

# Long: hours, one VM per core (bench/run --jobs). BENCHFLAGS go to
# bench/run (e.g. BENCHFLAGS='--sizes "64M 256M" --reps 3', or
# '--resume DIR' to go on with an interrupted run).
BENCHFLAGS ?=
bench: kernel plugin modules modules-bench userspace
	bench/run --kernel $(BENCH_KERNEL) $(BENCHFLAGS)

# On a real host (PREFIX, DESTDIR and the parts' directory variables are
# passed through to the parts). Depends on nothing the tests need: the
# programs, the man pages and the CRIU plugin (which needs a built CRIU).
# daemon/Makefile runs 'systemctl daemon-reload' when it installs the unit
# on a live systemd system (DESTDIR empty).
install: install-programs install-plugin install-criu

install-programs: programs man
	@for d in daemon tools man; do \
		$(MAKE) --no-print-directory -C $$d O=$(BUILD)/$$d KHUPLIBDIR=$(KHUPLIBDIR) install || exit 1; \
	done

install-plugin: plugin
	$(MAKE) -C criu-plugin CRIU_DIR=$$(scripts/build-criu --path) O=$(BUILD)/criu-plugin \
		PLUGINDIR=$(KHUPLIBDIR)/plugins install

# khup.ko for one kernel: KREL (default: the running one), built against
# KDIR, that kernel's build tree (default: /lib/modules/KREL/build, which
# Debian's linux-headers-KREL provides). The kernel needs
# CONFIG_KEXEC_HANDOVER. A production build (no test hooks), so it has its
# own output directory: build/modules/ holds the test kernels' modules.
# For every installed kernel at once, use DKMS (make install-dkms).
KREL ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KREL)/build
install-module:
	@[ -f $(KDIR)/Makefile ] || { echo "install-module: no kernel build tree in $(KDIR): install linux-headers-$(KREL), or pass KDIR=DIR" >&2; exit 1; }
	@grep -qx 'CONFIG_KEXEC_HANDOVER=y' $(KDIR)/.config || { echo "install-module: $(KDIR) is a kernel without CONFIG_KEXEC_HANDOVER=y: khup.ko needs KHO" >&2; exit 1; }
	$(MAKE) -C kernel KDIR=$(KDIR) KHUP_OUT=$(BUILD)/modules-install/$(KREL)
	install -D -m 0644 $(BUILD)/modules-install/$(KREL)/khup.ko $(DESTDIR)/lib/modules/$(KREL)/extra/khup.ko
	[ -n "$(DESTDIR)" ] || depmod -a $(KREL)

# khup.ko through DKMS: the module's sources and dkms.conf into
# /usr/src/khup-VERSION; on the live system (DESTDIR empty) also 'dkms add'
# and a build and install for every kernel in /lib/modules that has its
# build tree (dkms.conf skips kernels without KHO: dkms exits 77 for them).
# Kernels installed later get the module from DKMS's kernel hook.
DKMS_VERSION = $(shell scripts/version --base)
DKMS_SRC = $(DESTDIR)/usr/src/khup-$(DKMS_VERSION)
install-dkms:
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)/kernel $(DKMS_SRC)/include/uapi/linux
	install -m 0644 kernel/Makefile kernel/*.c kernel/*.h $(DKMS_SRC)/kernel/
	install -m 0644 include/uapi/linux/khup.h $(DKMS_SRC)/include/uapi/linux/
	sed 's|@VERSION@|$(DKMS_VERSION)|' dkms.conf >$(DKMS_SRC)/dkms.conf
	@if [ -z "$(DESTDIR)" ]; then \
		command -v dkms >/dev/null || { echo "install-dkms: dkms not found (Debian package dkms)" >&2; exit 1; }; \
		dkms status -m khup -v $(DKMS_VERSION) | grep -q . && dkms remove khup/$(DKMS_VERSION) --all; \
		dkms add khup/$(DKMS_VERSION) || exit 1; \
		for b in /lib/modules/*/build; do \
			[ -f $$b/Makefile ] || continue; \
			k=$${b#/lib/modules/}; k=$${k%/build}; \
			dkms install khup/$(DKMS_VERSION) -k $$k; rc=$$?; \
			[ $$rc -eq 0 ] || [ $$rc -eq 77 ] || exit 1; \
		done; \
	fi

# Everything install put there but /etc/khup/khupd.conf (the
# administrator's settings); needs no build.
uninstall:
	@for d in daemon tools man; do \
		$(MAKE) --no-print-directory -C $$d O=$(BUILD)/$$d KHUPLIBDIR=$(KHUPLIBDIR) uninstall || exit 1; \
	done
	rm -f $(DESTDIR)$(KHUPLIBDIR)/criu $(DESTDIR)$(KHUPLIBDIR)/plugins/khup_plugin.so
	@for d in $(DESTDIR)$(KHUPLIBDIR)/plugins $(DESTDIR)$(KHUPLIBDIR); do \
		[ ! -d $$d ] || rmdir --ignore-fail-on-non-empty $$d || exit 1; \
	done

# The patched CRIU goes next to its plugin, in khup's own directory and not
# on PATH: the distribution's criu (podman, runc) stays the one 'criu'
# runs. khup-upgrade uses this one (its default --criu and --criu-libdir).
install-criu: criu
	install -D -m 0755 $$(scripts/build-criu --path)/criu/criu $(DESTDIR)$(KHUPLIBDIR)/criu

clean:
	rm -rf $(BUILD)
