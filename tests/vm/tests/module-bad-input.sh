# SPDX-License-Identifier: GPL-2.0-only
# /dev/khup rejects bad input with its documented errno and leaks nothing
VM_TIMEOUT=300



# Each case runs in a fresh module instance so images from one case cannot
# satisfy or disturb another; the module must unload cleanly after each.
case_() {
	local c=$1
	insmod "$KHUP_BUILD/modules/$(uname -r)/khup.ko" || { fail "$c: insmod"; return; }
	check "$c" kt bad-input "$c"
	# Release whatever the case left behind, then the module must unload.
	local n
	for n in b r dup t u; do kt release "$n" >/dev/null 2>&1 || true; done
	check "$c: module unloads afterwards" rmmod khup
}

stage1() {
	local before after c
	before=$(memfree_settled_kb)
	for c in size-small size-trailing-nonzero size-trailing-zero reserved \
		 unknown-ioctl unknown-flag bad-name duplicate-name no-such-image \
		 no-such-pid untraced-pid negative-pid prepare fd-on-efault unprivileged not-owner unaligned \
		 unmapped overlap overflow iovec-count state read-past-end double-release; do
		case_ "$c"
	done
	check "KHO out tree has no khup node" test ! -e /sys/kernel/debug/kho/out/sub_fdts/khup

	# rmmod must be refused while an image is held.
	insmod "$KHUP_BUILD/modules/$(uname -r)/khup.ko"
	check "create an image (it holds the module)" kt bad-input duplicate-name
	check "rmmod refused while an image is held" bash -c '! rmmod khup 2>/dev/null'
	check "release the held image" kt release dup
	check "rmmod succeeds after release" rmmod khup

	after=$(memfree_settled_kb)
	note "free memory before ${before} kB, after ${after} kB"
	check "no memory leaked (within $(($(memfree_slack_kb) / 1024)) MiB)" test $((before - after)) -le "$(memfree_slack_kb)"
}
