# SPDX-License-Identifier: GPL-2.0-only
# khup claims: one restorer at a time, consumed pages roll back when a restore fails, commit frees, the shrinker reclaims consumed pages as lost; a page lost at kexec reads as EIO, never zeros
VM_KEXEC=yes
VM_TIMEOUT=600

T=/sys/kernel/tracing
# traced NAME FIELDS: a khup:NAME event with FIELDS (a regex) in the trace
traced() { grep -qE " $1: $2" "$T/trace"; }

stage1() {
	local before
	before=$(memfree_settled_kb)
	check "module loads" insmod "$(khup_ko)"
	# What loading the module costs by itself, for stage 2's accounting.
	echo $((before - $(memfree_settled_kb))) >"$OUT/load_cost"
	echo 1 >"$T/events/khup/enable"
	check "image c1: pin a stopped child, seal" kt remote-pin c1 "$OUT/c1.state"
	check "claim c1: second claim, release and plain punch refused; consume, roll back (killing a tied process), reclaim" \
		kt claim c1 "$OUT/c1.state"
	grep -E ' khup_(claim|consume|rollback|lost|commit):' "$T/trace" | head -n 12 | sed 's/^/#   trace: /'
	check "traced: khup_claim with the image's pages" traced khup_claim "image=[0-9]+ pages=[1-9][0-9]*$"
	check "traced: khup_consume of the punched pages" traced khup_consume "image=[0-9]+ pid=[0-9]+ pages=[1-9]"
	check "traced: khup_rollback of the consumed pages" traced khup_rollback "image=[0-9]+ pages=[1-9]"
	check "traced: khup_lost for the pages the shrinker reclaimed" traced khup_lost "image=[0-9]+ pid=[0-9]+ pages=[1-9]"
	check "release c1 (its lost pages are gone; the rest is freed)" kt release c1
	check "image c2: pin a stopped child, seal" kt remote-pin c2 "$OUT/c2.state"
	check "commit c2: consume half, CLAIM_TIE checks its input, commit releases everything and forgets the ties" \
		kt claim-commit c2 "$OUT/c2.state"
	check "traced: khup_commit of the consumed pages, then the release" \
		bash -c "grep -qE ' khup_commit: image=[0-9]+ pages=[1-9]' $T/trace && grep -A2 ' khup_commit: ' $T/trace | grep -q ' khup_release: image=[0-9]* pid=0 '"
	echo 0 >"$T/events/khup/enable"
	"$KHUP_BUILD/progs/khup-nl" stats >"$OUT/stats"
	sed 's/^/#   stats: /' "$OUT/stats"
	check "statistics: pages consumed by the claims" grep -q '^consumed [1-9]' "$OUT/stats"
	check "statistics: bytes read and the time it took" \
		bash -c "grep -q '^read_bytes [1-9]' $OUT/stats && grep -q '^read_ns [1-9]' $OUT/stats"
	check "statistics: time spent committing" grep -q '^commit_ns [1-9]' "$OUT/stats"
	check_eq "no image left" "$(kt list | wc -l)" 0
	check "image c3: pin a stopped child, seal; kexec with it" kt remote-pin c3 "$OUT/c3.state"
}

stage2() {
	local held freed pages
	read -r _ _ pages _ <"$OUT/c3.state"
	held=$(memfree_settled_kb)
	# Page 5 of every restored task is freed and counted as lost.
	check "module loads after kexec, losing page 5 (test hook), tracing" insmod "$(khup_ko)" debug_lose_page=5 trace=top
	check "traced: khup_restore with 1 lost page, and khup_lost" \
		bash -c "grep -qE ' khup_restore: image=[0-9]+ pid=[0-9]+ pages=[0-9]+ lost=1$' $T/trace && grep -qE ' khup_lost: image=[0-9]+ pid=[0-9]+ pages=1$' $T/trace"
	check "the load logged the loss" bash -c "dmesg | grep -q 'image [0-9]* task [0-9]*: 1 pages could not be restored; they read as errors'"
	check "INFO and TASKS count 1 lost page; CLAIM refused with EIO" kt lost c3 1
	check_eq "khupctl shows the lost page, for the image and its task" \
		"$("$KHUP_BUILD/tools/khupctl" show c3 --json | jq -c '[.lost, .task_list[0].lost]')" "[1,1]"
	echo "5 1" >>"$OUT/c3.state.punched"
	check "page 5 fails with EIO, every other page reads back identical" kt remote-check c3 "$OUT/c3.state"
	check "release c3" kt release c3
	freed=$(memfree_settled_kb)
	note "free memory with the image held ${held} kB, after release ${freed} kB, image $((pages * 4)) kB"
	check "released pages returned to the allocator (within $(($(memfree_slack_kb) / 1024)) MiB, after the module's own load cost)" \
		test $((freed - held)) -ge $((pages * 4 - $(memfree_slack_kb) - $(cat "$OUT/load_cost")))
	check "rmmod" rmmod khup
}
