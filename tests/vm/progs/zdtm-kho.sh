# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers for the ZDTM VM tests (zdtm-kho, zdtm-kho-kexec, tests/zdtm/all.sh
# of 'make zdtm'), sourced inside the guest after guest-lib.sh. They run
# CRIU's own test suite (ZDTM, built by scripts/build-zdtm into
# build/zdtm) through zdtm.py with --kho on every dump and restore.

. "$KHUP_TOP/tests/vm/progs/criu-kho.sh"

ZDTM_BUILD=$KHUP_BUILD/zdtm
ZDTM_LISTS=$KHUP_TOP/tests/zdtm
# The writable copy the tests run in (zdtm.py writes pid files, outputs and
# the images next to the tests; the guest's / is read-only).
ZDTM=/tmp/zdtm
ZDTM_CRIU=$ZDTM/criu-kho

# zdtm_setup: module loaded, plugin built, ZDTM copied to $ZDTM, the criu
# wrapper written.
zdtm_setup() {
	need_plugin
	check "module loads" insmod "$(khup_ko)"
	check "ZDTM is built (scripts/build-zdtm)" test -s "$ZDTM_BUILD/static.list"
	rm -rf "$ZDTM"
	mkdir -p "$ZDTM" "$OUT/zdtm"
	check "ZDTM copied to $ZDTM" cp -a "$ZDTM_BUILD/criu/test" "$ZDTM_BUILD/criu/lib" "$ZDTM/"
	# and the headers test/plugins builds its plugins with (zdtm.py
	# builds memfd_pages for 'run --kho')
	mkdir -p "$ZDTM/criu/arch/x86"
	check "CRIU's include/ copied to $ZDTM" cp -a "$ZDTM_BUILD/criu/include" "$ZDTM/"
	check "CRIU's criu/include/ copied to $ZDTM" cp -a "$ZDTM_BUILD/criu/criu/include" "$ZDTM/criu/"
	check "CRIU's x86 headers copied to $ZDTM" \
		cp -a "$ZDTM_BUILD/criu/criu/arch/x86/include" "$ZDTM/criu/arch/x86/"
	# zdtm.py runs "criu ACTION --no-default-config ARGS..." (with --kho
	# on dump and restore when it runs with --kho): the wrapper adds
	# khup's plugin directory to dump and restore when ZDTM_KHO=1 (else
	# criu loads the plugins zdtm.py built in test/plugins, CRIU_LIBS_DIR).
	# Either way it locks the network of a net namespace with nftables
	# (CRIU's default, iptables, is not installed; the test kernels have
	# nftables).
	cat >"$ZDTM_CRIU" <<-EOF
		#!/bin/bash
		case "\$1" in
		dump | restore)
		    if [ "\${ZDTM_KHO:-0}" = 1 ]; then
		        exec "$CRIU" "\$@" --network-lock nftables --libdir "$KHUP_PLUGIN_DIR"
		    fi
		    exec "$CRIU" "\$@" --network-lock nftables ;;
		esac
		exec "$CRIU" "\$@"
	EOF
	chmod +x "$ZDTM_CRIU"
}

# zdtm_flavor NAME: the flavor scripts/build-zdtm chose for the test
zdtm_flavor() { awk -v t="$1" '$1 == t { print $2 }' "$ZDTM_BUILD/static.list"; }

# zdtm_excluded NAME: the reason the test is in tests/zdtm/exclude (by its
# name, or by its flavor: "flavor:F"), if so. A line whose second field is
# "if-absent=PATH" excludes only on a kernel without PATH (what the kernel
# lacks: make zdtm's kernel has it, the test kernels do not). The first
# line that applies gives the reason: a flavor's line that lapses on this
# kernel does not hide a line of the test's own.
zdtm_excluded() {
	local line path
	while IFS= read -r line; do
		path=${line%%$'\t'*}
		[ "$path" = - ] || [ ! -e "$path" ] || continue
		echo "${line#*$'\t'}"
		return 0
	done < <(grep -v '^#' "$ZDTM_LISTS/exclude" |
		awk -v t="$1" -v f="flavor:$(zdtm_flavor "$1")" '
		$1 == t || $1 == f {
			p = "-"
			if ($2 ~ /^if-absent=/) { p = substr($2, 11); $2 = "" }
			$1 = ""; sub(/^[ \t]+/, ""); print p "\t" $0
		}')
	return 1
}

# zdtm_run MODE FLAVOR NAME...: zdtm.py runs of the static tests NAME... in
# FLAVOR, going on after a failure. MODE kho: 'zdtm.py run --kho' (--kho on
# dump and restore), the pages kept by khup's plugin; memfd: the same with
# CRIU's test plugin test/plugins/memfd_pages (the hooks without khup);
# plain: without --kho, as CRIU's CI runs them. 20 tests per run, so that a long
# set leaves its results as it goes. zdtm.py's TAP reports:
# $OUT/zdtm/MODE-FLAVOR-N/criu-testreport.tap, its output MODE-FLAVOR-N.log.
zdtm_run() {
	local mode=$1 flavor=$2 t n=0 i=0 args=() tag k
	shift 2
	while [ $# -gt 0 ]; do
		args=()
		for t in "${@:1:20}"; do args+=(-t "zdtm/static/$t"); done
		k=$((${#args[@]} / 2))
		shift "$k"
		n=$((n + 1))
		tag=$mode-$flavor-$n
		rm -rf "${OUT:?}/zdtm/$tag"
		[ "$mode" = plain ] || args+=(--kho)
		(cd "$ZDTM/test" && ZDTM_KHO=$([ "$mode" = kho ] && echo 1 || echo 0) \
			python3 zdtm.py run "${args[@]}" -f "$flavor" --keep-going \
			--ignore-taint --keep-img never --criu-bin "$ZDTM_CRIU" \
			--pycriu-search-path "$ZDTM/lib" --report "$OUT/zdtm/$tag") \
			</dev/null >"$OUT/zdtm/$tag.log" 2>&1
		i=$((i + k))
		note "zdtm ($mode, $flavor): $i tests run, $(grep -hc '^ok' "$OUT/zdtm/$mode-$flavor-"*/criu-testreport.tap 2>/dev/null | awk '{ n += $1 } END { print n + 0 }') passed so far"
	done
}

# zdtm_verdict MODE NAME: ok, or why not (zdtm.py's reports)
zdtm_verdict() {
	cat "$OUT/zdtm/$1"-*/criu-testreport.tap 2>/dev/null | awk -v t="zdtm/static/$2" '
		$1 == "ok" && $4 == t { v = ($5 == "#") ? "skipped by zdtm.py:" substr($0, index($0, "#") + 1) : "ok" }
		$1 == "not" && $5 == t { v = "failed" }
		END { print v ? v : "no result from zdtm.py" }'
}

# zdtm_memfd NAME...: the static tests NAME... (h flavor) through 'zdtm.py
# run --kho' with CRIU's test plugin memfd_pages instead of khup's: the
# page content hooks of the CRIU series, tested by CRIU's own means. One
# assertion each, and none of them may leave a /dev/khup image.
zdtm_memfd() {
	local t
	zdtm_run memfd h "$@"
	for t in "$@"; do
		check_eq "zdtm $t (--kho, test/plugins/memfd_pages)" "$(zdtm_verdict memfd "$t")" ok
	done
	check_eq "memfd_pages: no /dev/khup image was made" "$(khup_images | wc -l)" 0
}

# zdtm_set LIST: every test of LIST ("NAME" lines, '#' comments) through
# zdtm.py with --kho, one assertion each (see zdtm_run). The tests
# that fail are run again without --kho, and the reason says whether they
# pass that way. Excluded tests (tests/zdtm/exclude) are not run; a note
# names each. Ends with a summary note and $OUT/zdtm/summary.
zdtm_set() {
	local t reason v plain flavor pass=0 failed=0 excl=0 t0=$SECONDS left kept
	local -a tests=()
	local -A group=() again=()
	while read -r t _; do
		case "$t" in '' | '#'*) continue ;; esac
		if reason=$(zdtm_excluded "$t"); then
			note "excluded: $t ($reason)"
			excl=$((excl + 1))
			continue
		fi
		tests+=("$t")
		flavor=$(zdtm_flavor "$t")
		group[${flavor:-h}]+=" $t"
	done <"$1"
	for flavor in "${!group[@]}"; do
		# shellcheck disable=SC2086
		zdtm_run kho "$flavor" ${group[$flavor]}
	done
	# A test whose restore fails after its dump went to /dev/khup leaves
	# that image (an image nobody restored is kept); no other test may.
	left=$(khup_images | wc -l)
	kept=$(cat "$OUT/zdtm/kho-"*.log 2>/dev/null |
		grep -c '^#* *Test zdtm/static/[^ ]* FAIL at CRIU restore' || true)
	check_eq "a /dev/khup image is left by each test whose restore failed ($kept), by no other" \
		"$left" "$kept"
	[ "$left" -eq 0 ] || "$KHUP_BUILD/tools/khupctl" release --force --all
	for t in "${tests[@]}"; do
		[ "$(zdtm_verdict kho "$t")" = ok ] && continue
		flavor=$(zdtm_flavor "$t")
		again[${flavor:-h}]+=" $t"
	done
	for flavor in "${!again[@]}"; do
		# shellcheck disable=SC2086
		zdtm_run plain "$flavor" ${again[$flavor]}
	done
	for t in "${tests[@]}"; do
		flavor=$(zdtm_flavor "$t")
		v=$(zdtm_verdict kho "$t")
		if [ "$v" = ok ]; then
			pass "zdtm $t (--kho, $flavor)"
			pass=$((pass + 1))
			continue
		fi
		plain=$(zdtm_verdict plain "$t")
		[ "$plain" = ok ] && plain="it passes" || plain="it fails too ($plain)"
		fail "zdtm $t (--kho, $flavor)" "$v with --kho; without --kho $plain"
		failed=$((failed + 1))
	done
	note "ZDTM with --kho: $pass passed, $failed failed, $excl excluded, in $((SECONDS - t0)) s"
	echo "$pass $failed $excl $((SECONDS - t0))" >"$OUT/zdtm/summary"
}
