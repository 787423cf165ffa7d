# SPDX-License-Identifier: GPL-2.0-only
# make zdtm: every static test of CRIU's ZDTM through zdtm.py with --kho on dump and restore (same kernel); one shard of them when ZDTM_SHARD=I/N (scripts/run-zdtm runs N shards, one VM each)
VM_TIMEOUT=21600
VM_CMDLINE="khup.zdtm_shard=${ZDTM_SHARD:-1/1}"

# (the host reads this file for its VM_* settings, without KHUP_TOP)
[ -z "${KHUP_TOP:-}" ] || . "$KHUP_TOP/tests/vm/progs/zdtm-kho.sh"

stage1() {
	local shard i n
	shard=$(arg khup.zdtm_shard)
	i=${shard%/*} n=${shard#*/}
	if ! [[ "$shard" =~ ^[1-9][0-9]*/[1-9][0-9]*$ ]] || [ "$i" -gt "$n" ]; then
		fail "shard" "ZDTM_SHARD takes I/N with 1 <= I <= N, not '$shard'"
		return
	fi
	zdtm_setup
	# Shard I of N: every Nth test of the list from the Ith, so that the
	# slow and the quick tests of one family spread over the shards.
	grep -v '^#' "$ZDTM_BUILD/static.list" |
		awk -v i="$i" -v n="$n" 'NF && (NR - 1) % n == i - 1' >"$ZDTM/shard.list"
	note "shard $i of $n: $(wc -l <"$ZDTM/shard.list") of $(grep -vc '^#' "$ZDTM_BUILD/static.list") static tests"
	zdtm_set "$ZDTM/shard.list"
	check "the set ran to its end (its summary is written)" test -s "$OUT/zdtm/summary"
	check "rmmod" rmmod khup
}
