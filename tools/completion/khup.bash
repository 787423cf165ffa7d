# SPDX-License-Identifier: GPL-2.0-only
# Bash completion for khupctl(8) and khup-upgrade(8).
#
# Options, commands and what each argument is are read from the program's
# own --help, so the completion cannot drift from the program: the line
# "  -k, --kernel FILE   ..." says that --kernel takes a FILE, and khupctl's
# "  show IMAGE   ..." that show takes an IMAGE. The same file is installed
# under both names, since bash-completion loads a command's completion from
# the file named after it. Needs nothing but bash.

# _khup_long HELP OPT: the long form of OPT (-k gives --kernel).
_khup_long()
{
	if [[ $2 == --* ]]; then
		printf '%s\n' "$2"
	else
		sed -nE "s/^ {1,8}$2, (--[a-z][a-z-]*).*/\\1/p" <<<"$1" | head -n 1
	fi
}

# _khup_metavar HELP LONGOPT: what the option takes (FILE, DIR, PID, ...),
# nothing for a flag.
_khup_metavar()
{
	[ -n "$2" ] || return 0
	sed -nE "s/^ {1,8}(-[A-Za-z], )?$2 \"?([A-Z][A-Z_]*)\"?( .*)?\$/\\2/p" <<<"$1" | head -n 1
}

# _khup_options HELP: every long option of the option lines (indented by
# at most 8 blanks: deeper lines continue a description), and of the usage
# lines (khup-upgrade's modes: --restore, --report).
_khup_options()
{
	sed -nE 's/^ {1,8}(-[A-Za-z], )?(--[a-z][a-z-]*).*/\2/p' <<<"$1"
	awk '/^Usage:/ { u = 1; print; next } u && /^ / { print; next } { u = 0 }' <<<"$1" |
		grep -oE -- '--[a-z][a-z-]*'
}

# _khup_value METAVAR LONGOPT PROG: completes the value of an argument.
_khup_value()
{
	local cur=${COMP_WORDS[COMP_CWORD]} words
	case $1 in
	FILE | PATH | BZIMAGE)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		;;
	DIR)
		# cgroups live under one root; start there
		[[ $2 == --cgroup && -z $cur ]] && cur=/sys/fs/cgroup/
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		;;
	PID)
		words=$(cd /proc 2>/dev/null && printf '%s\n' [0-9]*)
		mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
		;;
	PATTERN)
		words=$(ps -e -o comm= 2>/dev/null | sort -u)
		mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
		;;
	IMAGE)
		# names are printable ASCII without blanks: column 2 of 'list'
		words=$("$3" list 2>/dev/null | awk '$1 ~ /^[0-9]+$/ { print $2 }')
		mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
		;;
	*)
		COMPREPLY=()
		;;
	esac
}

_khup_upgrade()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local prog=${COMP_WORDS[0]} help opt mv i

	COMPREPLY=()
	# after '--' come trace-cmd report's options
	for ((i = 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} == -- ]] && return 0
	done
	help=$("$prog" --help 2>/dev/null) || return 0
	if [[ $prev == -* ]]; then
		opt=$(_khup_long "$help" "$prev")
		mv=$(_khup_metavar "$help" "$opt")
		if [ -n "$mv" ]; then
			_khup_value "$mv" "$opt" "$prog"
			return 0
		fi
	fi
	mapfile -t COMPREPLY < <(compgen -W "$(_khup_options "$help" | sort -u)" -- "$cur")
}

_khupctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local prog=${COMP_WORDS[0]} help opt mv cmd='' w i synopsis

	COMPREPLY=()
	help=$("$prog" --help 2>/dev/null) || return 0
	if [[ $prev == -* ]]; then
		opt=$(_khup_long "$help" "$prev")
		mv=$(_khup_metavar "$help" "$opt")
		if [ -n "$mv" ]; then
			_khup_value "$mv" "$opt" "$prog"
			return 0
		fi
	fi
	# the command: the first word that is neither an option nor its value
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == -* ]]; then
			[ -z "$(_khup_metavar "$help" "$(_khup_long "$help" "$w")")" ] || ((i++))
			continue
		fi
		cmd=$w
		break
	done
	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			w=$(_khup_options "$help" | sort -u)
		else
			# the Commands section: two blanks, then a lower-case word
			w=$(sed -nE 's/^  ([a-z]+)( .*)?$/\1/p' <<<"$help")
		fi
		mapfile -t COMPREPLY < <(compgen -W "$w" -- "$cur")
		return 0
	fi
	# the command's synopsis, e.g. "release [--force] [--dry-run] IMAGE|--all"
	synopsis=$(sed -nE "s/^  $cmd( .*)?\$/\\1/p" <<<"$help" | head -n 1 | sed -E 's/ {2,}.*//')
	mv=$(grep -oE '[A-Z][A-Z_]+' <<<"$synopsis" | head -n 1)
	if [[ $cur == -* || -z $mv ]]; then
		w="$(grep -oE -- '--[a-z][a-z-]*' <<<"$synopsis") --json"
		mapfile -t COMPREPLY < <(compgen -W "$w" -- "$cur")
	else
		_khup_value "$mv" "" "$prog"
	fi
}

complete -F _khupctl khupctl
complete -F _khup_upgrade khup-upgrade
