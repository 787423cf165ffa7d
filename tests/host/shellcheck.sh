#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# host check: the shell programs make install puts on a host pass
# ShellCheck at every severity (style included): khup-upgrade's driver
# with the library it sources (-x), each library file on its own (a
# sourced file is not checked through the driver), and
# khup-restore-generator. ShellCheck comes with scripts/deps and is
# required: the checks fail without it. KTAP output, 'N passed, N failed'
# last; exit 0 only if all passed.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=tests/host/ktap.sh
. "$top/tests/host/ktap.sh"

echo "KTAP version 1"
echo "# $(shellcheck --version 2>&1 | sed -n 's/^version: /shellcheck /p')"
cd "$top/tools" || exit 1
check "khup-upgrade and the library it sources (shellcheck -x)" shellcheck -x khup-upgrade
for f in upgrade/*.sh; do
	check "khup-upgrade's library: $f" shellcheck "$f"
done
check "khup-restore-generator" shellcheck khup-restore-generator
# The driver sources every file of the library, and nothing else
want=$(cd upgrade && printf '%s\n' *.sh | sort)
# shellcheck disable=SC2016 # (a literal $ in the pattern)
got=$(sed -nE 's|^\. "\$UPGRADE_LIB/([a-z-]+\.sh)".*|\1|p' khup-upgrade | sort)
check "khup-upgrade sources every library file (upgrade/*.sh)" diff <(echo "$want") <(echo "$got")

ktap_end
