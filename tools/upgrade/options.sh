# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# The settings are read by the other parts of the library:
# shellcheck disable=SC2034
#
# khup-upgrade's library: the settings, --help, the command line, and what
# a restore takes from the upgrade it restores (khup-upgrade.criu).

IMAGES_DIR=/var/lib/khup/images
IMAGES_DIR_SET=no
KERNEL=
INITRD=
APPEND=
CMDLINE=
TRACE_INSTANCE=khup
RESERVE_MEM=12M
TRACE=yes
CRIU_SET=$([ -n "${CRIU:-}" ] && echo yes || echo no)
CRIU=${CRIU:-$([ -x "$KHUP_LIBDIR/criu" ] && echo "$KHUP_LIBDIR/criu" || echo criu)}
CRIU_LIBDIR=
[ ! -f "$KHUP_LIBDIR/plugins/khup_plugin.so" ] || CRIU_LIBDIR=$KHUP_LIBDIR/plugins
CRIU_OPTS=
DRY_RUN=no
PREPARE=yes
# khupctl and khup-tracedat: $KHUPCTL and $KHUP_TRACEDAT, else next to
# the driver (installed or built), else from PATH
if [ -z "${KHUPCTL:-}" ]; then
	KHUPCTL=$HERE/khupctl
	[ -x "$KHUPCTL" ] || KHUPCTL=khupctl
fi
TRACEDAT=${KHUP_TRACEDAT:-$HERE/khup-tracedat}
[ -x "$TRACEDAT" ] || TRACEDAT=khup-tracedat
TRACE_CMD=${TRACE_CMD:-trace-cmd}
EXEC=yes
RESTORE=no
RESTORE_UNIT=
# Where a dumped service's restore writes its main pid (Type=forking,
# PIDFile= of the drop-in khup-restore-generator writes).
PIDFILE_DIR=/run/khup-restore
ASSUME_KHO=no
NEXT_CONFIG=
NEXT_MODULE=
LAZY=no
PIDS=()
CGROUPS=()
NAMES=()
REPORT=no
REPORT_ARGS=()
TRACEFS=/sys/kernel/tracing
DEBUGFS=/sys/kernel/debug
# criu's options for every dump and restore (--libdir, --criu-opts)
CRIU_ARGS=()

usage() {
	cat <<EOH
Usage: $PROG [OPTIONS] --kernel BZIMAGE TARGET...
       $PROG --restore [--lazy] [--images-dir DIR] [--criu PATH] [--criu-libdir DIR]
       $PROG --report [--images-dir DIR] [-- TRACE-CMD-REPORT-OPTIONS]
Checkpoint processes with 'criu dump --kho' (their pages stay in RAM, held by
khup.ko), load the next kernel with KHO and a persistent trace instance, and
kexec into it. After boot, '--restore' restores them in the recorded order
and writes the upgrade's trace (both kernels, each decoded with its own event
formats and symbols); '--report' shows it with 'trace-cmd report'.

Targets (at least one; each is dumped as its own process tree):
  -p, --pid PID            the process tree rooted at PID
  -c, --cgroup DIR         every process of a cgroup (v2 directory); each one
                           whose parent is outside the cgroup is a tree root
  -n, --name PATTERN       processes whose name matches (pgrep -x PATTERN)

Upgrade options:
  -k, --kernel FILE        the next kernel (bzImage)
  -i, --initrd FILE        its initrd
  -a, --append ARGS        extra command-line arguments for the next kernel
      --cmdline ARGS       the next kernel's command line instead of the
                           running one's (kho=on and the trace arguments are
                           added either way)
  -D, --images-dir DIR     where the CRIU images go; must survive the kexec,
                           so not tmpfs (default $IMAGES_DIR)
      --trace-instance N   persistent ftrace instance (default $TRACE_INSTANCE)
      --reserve-mem SIZE   its reserve_mem size (default $RESERVE_MEM)
      --no-trace           no persistent trace instance, no khup:* events,
                           no trace files (trace-cmd not needed)
      --next-config FILE   the next kernel's .config, to check for KHO
                           (default: /boot/config-VERSION or FILE's dir/config)
      --assume-kho         do not require the next kernel's config
      --next-module FILE   khup.ko of the next kernel (default: the one
                           installed for it, modinfo -k VERSION khup)
      --no-prepare         do not move the trees' pages out of KHO scratch
                           before the dump (khupctl prepare); the dump's pin
                           then migrates them inside the downtime
      --no-exec            load the next kernel but do not kexec -e
      --criu PATH          criu binary with --kho (default: \$CRIU, else
                           $KHUP_LIBDIR/criu if installed, else criu)
      --criu-libdir DIR    directory with khup_plugin.so (default:
                           $KHUP_LIBDIR/plugins if it has it)
      --criu-opts "OPTS"   more options for criu dump/restore (e.g. --shell-job)
      --dry-run            print every step and run every check, change
                           nothing (exit 3 if a check failed)
      --lazy               with --restore: post-copy; each tree runs as soon as
                           it is recreated, a 'criu lazy-pages --kho' daemon
                           per tree copies its memory and commits its image;
                           waits for every fill, reports both times
      --restore-unit UNIT  restore the tree that was the main process of the
                           systemd service UNIT, in the calling process's
                           cgroup, its pid in $PIDFILE_DIR/UNIT.pid; when
                           there is none or the restore fails, start the
                           unit's own ExecStart= instead (what the drop-in of
                           khup-restore-generator runs at boot)
  -h, --help               this text
  -V, --version            print the version

Under systemd, a target that is the main process of a service is dumped as
that service: it comes back at boot as the same process in the same unit
(khup-restore-generator, khup-restore.service); the kexec is 'systemctl
kexec'. Every run logs to IMAGES_DIR/khup-upgrade.log and to the journal.

Exit status: 0 success (with --no-exec: kernel loaded), 1 a step failed,
2 usage error, 3 refused before doing anything (the reason is printed).
EOH
}

need_arg() { [ $# -ge 2 ] || usage_error "$1 needs an argument"; }

# parse_options ARG...: the command line into the settings above. What
# reaches the next kernel's command line or a tracefs path is checked
# here, before anything else happens.
parse_options() {
	while [ $# -gt 0 ]; do
		case $1 in
		-k|--kernel) need_arg "$@"; KERNEL=$2; shift ;;
		-i|--initrd) need_arg "$@"; INITRD=$2; shift ;;
		-a|--append) need_arg "$@"; APPEND=$2; shift ;;
		--cmdline) need_arg "$@"; CMDLINE=$2; shift ;;
		-p|--pid) need_arg "$@"
			[[ $2 =~ ^[1-9][0-9]*$ ]] || usage_error "--pid takes a process id, not '$2'"
			PIDS+=("$2"); shift ;;
		-c|--cgroup) need_arg "$@"; CGROUPS+=("$2"); shift ;;
		-n|--name) need_arg "$@"; NAMES+=("$2"); shift ;;
		-D|--images-dir) need_arg "$@"; IMAGES_DIR=$2; IMAGES_DIR_SET=yes; shift ;;
		--trace-instance) need_arg "$@"
			[[ $2 =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] ||
				usage_error "--trace-instance takes a name of letters, digits, '_', '-' and '.', not '$2'"
			TRACE_INSTANCE=$2; shift ;;
		--reserve-mem) need_arg "$@"
			[[ $2 =~ ^[1-9][0-9]*[KMG]?$ ]] || usage_error "--reserve-mem takes a size like 12M, not '$2'"
			RESERVE_MEM=$2; shift ;;
		--no-trace) TRACE=no ;;
		--next-config) need_arg "$@"; NEXT_CONFIG=$2; shift ;;
		--assume-kho) ASSUME_KHO=yes ;;
		--next-module) need_arg "$@"; NEXT_MODULE=$2; shift ;;
		--no-exec) EXEC=no ;;
		--no-prepare) PREPARE=no ;;
		--criu) need_arg "$@"; CRIU=$2; CRIU_SET=yes; shift ;;
		--criu-libdir) need_arg "$@"; CRIU_LIBDIR=$2; shift ;;
		--criu-opts) need_arg "$@"; CRIU_OPTS=$2; shift ;;
		--dry-run) DRY_RUN=yes ;;
		--restore) RESTORE=yes ;;
		--restore-unit) need_arg "$@"; RESTORE_UNIT=$2; shift ;;
		--lazy) LAZY=yes ;;
		--report) REPORT=yes ;;
		--) shift; REPORT_ARGS=("$@"); break ;;
		-h|--help) usage; exit 0 ;;
		-V|--version) echo "$PROG $VERSION"; exit 0 ;;
		*) usage_error "unknown argument '$1' (see --help)" ;;
		esac
		shift
	done
}

# settle_options: what the options leave open. A restore (--restore,
# --restore-unit) after a kexec by khup-upgrade finds the images directory
# on the kernel command line (khup-upgrade.images=) and restores with the
# CRIU, plugin and options of the dump (IMAGES_DIR/khup-upgrade.criu)
# unless named here: at boot (khup-restore.service) the defaults may not be
# what the dump used.
settle_options() {
	local restoring=no c
	[ "$RESTORE" = no ] && [ -z "$RESTORE_UNIT" ] || restoring=yes
	if [ "$IMAGES_DIR_SET" = no ] && [ "$restoring" = yes ]; then
		IMAGES_DIR=$(cmdline_arg khup-upgrade.images || echo "$IMAGES_DIR")
	fi
	CRIU_RECORD=$IMAGES_DIR/khup-upgrade.criu
	TRACE_FILES=$IMAGES_DIR/khup-upgrade
	if [ "$restoring" = yes ] && [ -f "$CRIU_RECORD" ]; then
		if [ "$CRIU_SET" = no ]; then
			c=$(field "$CRIU_RECORD" criu)
			[ -z "$c" ] || [ ! -x "$c" ] || CRIU=$c
			c=$(field "$CRIU_RECORD" libdir)
			[ -z "$c" ] || [ ! -f "$c/khup_plugin.so" ] || CRIU_LIBDIR=$c
		fi
		[ -n "$CRIU_OPTS" ] || CRIU_OPTS=$(field "$CRIU_RECORD" opts)
		# an upgrade without its trace has none to write after it either
		[ "$(field "$CRIU_RECORD" trace)" != no ] || TRACE=no
	fi
	CRIU_ARGS=()
	[ -z "$CRIU_LIBDIR" ] || CRIU_ARGS+=(--libdir "$CRIU_LIBDIR")
	if [ -n "$CRIU_OPTS" ]; then
		# criu's options, split into words (never glob-expanded)
		local opts=()
		read -ra opts <<<"$CRIU_OPTS"
		CRIU_ARGS+=("${opts[@]}")
	fi
}
