# SPDX-License-Identifier: GPL-2.0-only
#
# khup-upgrade as the upgrade-* VM tests run it, sourced in the guest after
# criu-kho.sh: the build tree's driver (with its library beside it), this
# test's CRIU and plugin, and the next kernel's khup.ko.

UPGRADE=$KHUP_BUILD/tools/khup-upgrade

# upgrade ARGS...: khup-upgrade with this test's CRIU and plugin (and the
# next kernel's khup.ko, unless ARGS name another)
upgrade() {
	local mod=$KHUP_BUILD/modules/$STAGE_RELEASE_2/khup.ko
	case " $* " in *" --next-module "*) mod= ;; esac
	"$UPGRADE" --criu "$CRIU" --criu-libdir "$KHUP_PLUGIN_DIR" ${mod:+--next-module "$mod"} "$@"
}
# run_to FILE CMD...: CMD's output into FILE
run_to() {
	local f=$1
	shift
	"$@" >"$f" 2>&1
}
