# SPDX-License-Identifier: GPL-2.0-only
# khup pins are charged: RLIMIT_MEMLOCK without CAP_IPC_LOCK (ENOMEM beyond it, nothing pinned), the max_pinned_pages cap (ENOSPC); release, punch and commit uncharge
VM_TIMEOUT=300

ks() { "$KHUP_BUILD/progs/khup-safety" "$@" "$KHUP_BUILD/progs/khup-nl"; }

stage1() {
	check "module loads" insmod "$(khup_ko)"
	check_eq "max_pinned_pages defaults to 0 (no cap)" \
		"$(cat /sys/module/khup/parameters/max_pinned_pages)" 0
	check_eq "nothing held at load" "$(stat_of held)" 0
	check_eq "nothing charged at load" "$(stat_of charged)" 0
	check "RLIMIT_MEMLOCK: a pin up to it is charged, beyond it ENOMEM and nothing pinned; release uncharges" \
		ks limit-rlimit
	check "punching and a claim's COMMIT uncharge what they free" \
		ks limit-uncharge
	check "CAP_IPC_LOCK: its images are not charged and not limited; a pin with it into a charged image is charged, not limited" \
		ks limit-capipc
	check "max_pinned_pages: ENOSPC beyond it over all images, nothing pinned" \
		ks limit-global
	check_eq "no image left" "$("$KHUP_BUILD/progs/khup-test" list | wc -l)" 0
	check_eq "held back to 0" "$(stat_of held)" 0
	check_eq "charged back to 0" "$(stat_of charged)" 0
	check "khupctl status shows held and charged pages" \
		bash -c "'$KHUP_BUILD/tools/khupctl' status | grep -q 'held_pages' && '$KHUP_BUILD/tools/khupctl' status | grep -q 'charged_pages'"
	check "rmmod" rmmod khup
}
