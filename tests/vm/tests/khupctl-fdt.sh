# SPDX-License-Identifier: GPL-2.0-only
# khupctl: list/show/status/release, and fdt prints memblock (with the ftrace reserve_mem buffer) and khup side by side, matching the module's counts
VM_KEXEC=yes
VM_CMDLINE="reserve_mem=12M:4096:trace trace_instance=khup@trace"
VM_TIMEOUT=600

kc() { "$KHUP_BUILD/tools/khupctl" "$@"; }

# tree_checks DIR: the printed KHO tree (kho/DIR) against the module's counts
tree_checks() {
	local dir=$1 j
	kc fdt --"$dir" | tee "$OUT/fdt.$dir.txt" | sed 's/^/#   /'
	j=$OUT/fdt.$dir.json
	check "fdt --$dir --json" bash -c "$KHUP_BUILD/tools/khupctl fdt --$dir --json >$j"
	check "JSON parses" jq -e . "$j"
	# kho/out/fdt is sized when KHO starts and reads truncated once sub
	# trees were added; kho/in/fdt is whole.
	[ "$dir" = out ] || check_eq "kho/$dir root is kho-v4" "$(jq -r .compatible "$j")" "kho-v4"
	check_eq "memblock and khup side by side" \
		"$(jq -r '[.nodes[].name | select(. == "memblock" or . == "khup")] | join(" ")' "$j")" "khup memblock"
	check_eq "memblock carries the trace reserve_mem region (12 MiB)" \
		"$(jq -r '.nodes[] | select(.name == "memblock") | .children[] | select(.name == "trace") | .size' "$j")" $((12 << 20))
	check_eq "khup node is khup-v3" "$(jq -r '.nodes[] | select(.name == "khup") | .compatible' "$j")" "khup-v3"
	check_eq "khup node has 2 images" "$(jq -r '.nodes[] | select(.name == "khup") | .["khup,nr-images"]' "$j")" 2
	local name pages tasks
	# Stage 1 compares with the module; stage 2 (module not loaded yet)
	# with what the module said before the kexec.
	for name in self remote; do
		if [ "$dir" = out ]; then
			read -r _ _ tasks pages _ < <(kt info "$name")
			echo "$tasks $pages" >"$OUT/counts.$name"
		else
			read -r tasks pages <"$OUT/counts.$name"
		fi
		check_eq "image $name: tasks in the tree = module's" \
			"$(jq -r --arg n "$name" '.nodes[] | select(.name == "khup") | .children[] | select(.["image-name"] == $n) | .children | length' "$j")" "$tasks"
		check_eq "image $name: pages in the tree = module's" \
			"$(jq -r --arg n "$name" '[.nodes[] | select(.name == "khup") | .children[] | select(.["image-name"] == $n) | .children[]["nr-pages"]] | add' "$j")" "$pages"
	done
	check "human tree names memblock, trace and khup" \
		bash -c "grep -q '^    memblock {' $OUT/fdt.$dir.txt && grep -q '^        trace {' $OUT/fdt.$dir.txt && grep -q '^    khup {' $OUT/fdt.$dir.txt"
}

stage1() {
	local kc_rc=0
	kc list >/dev/null 2>&1 || kc_rc=$?
	check_eq "list without the module exits 3" "$kc_rc" 3
	check "module loads" insmod "$(khup_ko)"
	check "self image pinned and sealed" kt self-pin self "$OUT/self.state"
	check "remote image pinned and sealed" kt remote-pin remote "$OUT/remote.state"
	kc list | sed 's/^/#   /'
	check_eq "list --json: two sealed images" "$(kc list --json | jq -r '[.[] | .state] | join(" ")')" "sealed sealed"
	check_eq "list --json pages = module's" "$(kc list --json | jq -r '.[] | select(.name == "self") | .pages')" \
		"$(kt info self | cut -d' ' -f4)"
	kc show remote | sed 's/^/#   /'
	check_eq "show --json: remote has one task with the module's pages" \
		"$(kc show remote --json | jq -r '.task_list | length, (map(.pages) | add)' | tr '\n' ' ')" \
		"1 $(kt info remote | cut -d' ' -f4) "
	local rc=0
	kc show nosuch >/dev/null 2>&1 || rc=$?
	check_eq "show of a missing image exits 4" "$rc" 4
	kc status | sed 's/^/#   /'
	check_eq "status --json: module loaded, node published, 2 images" \
		"$(kc status --json | jq -r '[.module_loaded, .node_published, .images] | join(" ")')" "true true 2"
	check "status --json: pinned pages counted" test "$(kc status --json | jq -r .stats.pinned_pages)" -gt 0
	tree_checks out
}

stage2() {
	tree_checks in
	check "module loads after kexec" insmod "$(khup_ko)"
	check_eq "both images restored" "$(kc list --json | jq -r '[.[] | .state] | join(" ")')" "restored restored"
	check_eq "restored pages = pages in the incoming tree" \
		"$(kc list --json | jq -r '[.[] | .pages] | join(" ")')" "$(cut -d' ' -f2 "$OUT/counts.self") $(cut -d' ' -f2 "$OUT/counts.remote")"
	if kc release self >"$OUT/release.noforce" 2>&1; then
		fail "release of an image that holds pages needs --force" "it succeeded"
	else
		pass "release of an image that holds pages needs --force"
	fi
	sed 's/^/#   /' "$OUT/release.noforce"
	check "... and says what it would free" grep -q "holds [0-9]* pages .* that nobody restored.*--force" "$OUT/release.noforce"
	check "release --dry-run says what would be freed" bash -c "$KHUP_BUILD/tools/khupctl release --dry-run self | grep -q \"would release image [0-9]* 'self' (restored): [0-9]* pages .* freed for good; needs --force\""
	check_eq "both images still there" "$(kc list --json | jq length)" 2
	check "release --force by name" kc release --force self
	check_eq "one image left" "$(kc list --json | jq length)" 1
	check "release --force --all" kc release --force --all
	check_eq "no image left" "$(kc list --json | jq length)" 0
	check "fdt --out has no khup node after release" bash -c "! $KHUP_BUILD/tools/khupctl fdt --out | grep -q '^    khup {'"
	check "rmmod" rmmod khup
}
