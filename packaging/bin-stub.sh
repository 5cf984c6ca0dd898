#!/bin/sh
# Jump Client installer for Linux: @@NAME@@
#
#   sh ./@@NAME@@ --install-dir DIR [--jc-jump-group G] [--jc-tag T] [--jc-comments C]
#                                [--silent] [--user U]          (--help lists every flag)
#
# This shell stub unpacks the gzip tar payload after it into a private temp dir, runs
# `jump-client install` from there with every argument untouched, removes the temp dir, and exits
# with the installer's status. It needs sh, tail, tar, gzip and mktemp; not Node.js.
set -u
umask 077

offset=@@OFFSET@@
me=$0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jump-client-install.XXXXXXXX") || {
  echo "@@NAME@@: cannot make a temp dir in ${TMPDIR:-/tmp}; set TMPDIR to a writable directory" >&2
  exit 1
}
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

if ! tail -c +"$offset" -- "$me" | tar -xzf - -C "$tmp"; then
  echo "@@NAME@@: the installer is damaged (its payload does not unpack); download it again" >&2
  exit 3
fi

"$tmp/jump-client" install "$@"
status=$?
if [ "$status" -eq 126 ]; then
  echo "@@NAME@@: cannot run programs from ${TMPDIR:-/tmp} (mounted noexec?); set TMPDIR to another directory" >&2
fi
exit "$status"
