# SPDX-License-Identifier: GPL-2.0-only
# khup generic netlink family (dump, get, stats, admin-only release, events) and khup:* tracepoints
VM_TIMEOUT=300

nl() { "$KHUP_BUILD/progs/khup-nl" "$@"; }

stage1() {
	local t=/sys/kernel/tracing id i
	check "module loads" insmod "$KHUP_BUILD/modules/$(uname -r)/khup.ko"
	check "khup:* tracepoints exist" test -d $t/events/khup
	echo 1 >$t/events/khup/enable
	echo >$t/trace

	nl listen 4 60 >"$OUT/events" 2>&1 &
	local listener=$!
	for i in $(seq 50); do grep -q listening "$OUT/events" && break; sleep 0.2; done
	check "listener joined the events group" grep -q listening "$OUT/events"

	# Image "t": one page pinned and sealed.
	check "create, pin, seal an image" kt bad-input state
	id=$(kt info t | cut -d' ' -f1)
	nl dump >"$OUT/dump" 2>&1
	check "dump lists the sealed image" grep -q "^$id t 2 1 1$" "$OUT/dump"
	check_eq "ioctl LIST agrees with the netlink dump" "$(kt list | tr '\n' ' ')" "$(cut -d' ' -f1 "$OUT/dump" | tr '\n' ' ')"
	nl get "$id" >"$OUT/get" 2>&1
	check "get returns the image" grep -q "^$id t 2 1 1$" "$OUT/get"
	check "get of an unknown id fails" bash -c "! $KHUP_BUILD/progs/khup-nl get 424242"
	nl stats >"$OUT/stats"
	check "stats count the pinned page" grep -q '^pinned [1-9]' "$OUT/stats"
	check "stats count the preserved page" grep -q '^preserved [1-9]' "$OUT/stats"
	check "punch every page through the read-back fd" kt punch-all t
	check_eq "image holds no page" "$(kt info t | cut -d' ' -f4)" 0
	check "release is admin-only" \
		bash -c "! setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all $KHUP_BUILD/progs/khup-nl release $id"
	check "dump, get and stats are admin-only too" \
		bash -c "for c in dump 'get $id' stats; do ! setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all $KHUP_BUILD/progs/khup-nl \$c || exit 1; done"
	check "joining the events group is admin-only" \
		bash -c "! setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all $KHUP_BUILD/progs/khup-nl listen 1 1"
	check "image still there after refused release" kt info t
	check "release via netlink" nl release "$id"
	check "image gone after release" bash -c "! $KHUP_BUILD/progs/khup-test info t 2>/dev/null"
	nl stats >"$OUT/stats2"
	check "stats count the freed page" grep -q '^freed [1-9]' "$OUT/stats2"

	wait "$listener"
	note "events: $(tr '\n' ';' <"$OUT/events")"
	check "sealed event received" grep -q "^sealed $id t$" "$OUT/events"
	check "freed event received when the last page was punched" grep -q "^freed $id t$" "$OUT/events"
	check "released event received" grep -q "^released $id t$" "$OUT/events"

	cat $t/trace >"$OUT/trace"
	check "khup_pin traced" grep -q "khup_pin: image=$id .* pages=1" "$OUT/trace"
	check "khup_seal traced" grep -q "khup_seal: image=$id tasks=1 pages=1" "$OUT/trace"
	check "khup_release traced" grep -q "khup_release: image=$id" "$OUT/trace"
	echo 0 >$t/events/khup/enable
	check "rmmod" rmmod khup
}
