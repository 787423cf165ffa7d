# SPDX-License-Identifier: GPL-2.0-only
# Shared helpers for khup's set-up and build scripts. Sourced, not run.

# Builds and downloads live outside the checkout so that fresh clones (and CI
# runs on the same machine) reuse them.
KHUP_CACHE=${KHUP_CACHE:-/var/cache/khup}
KHUP_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Kernel versions the project tests: the base and the "upgrade" target.
KHUP_KERNEL_BASE=${KHUP_KERNEL_BASE:-7.2}
KHUP_KERNEL_NEXT=${KHUP_KERNEL_NEXT:-7.3}

log() { printf '[khup] %s\n' "$*" >&2; }
die() { printf '[khup] error: %s\n' "$*" >&2; exit 1; }

need_root() {
	[ "$(id -u)" -eq 0 ] || die "$1 must run as root (it installs packages)"
}

# sha256 of the given files' contents, short form, for cache keys.
content_hash() {
	cat "$@" | sha256sum | cut -c1-16
}

# Run a command holding an exclusive lock on a cache entry, so that two
# concurrent builds (e.g. 'make -j test' and a CI run) never interleave.
with_lock() {
	local lock=$1
	shift
	mkdir -p "$(dirname "$lock")"
	(
		flock 9 || exit 1
		"$@"
	) 9>"$lock"
}
