{ jc_checked=; command -v sha256sum >/dev/null 2>&1 || { echo "@@NAME@@: cannot check this installer: sha256sum is missing (install coreutils or busybox)" >&2; exit 3; }; if [ "$(tail -n +2 -- "$0" | sha256sum)" = "@@SHA256@@  -" ]; then jc_checked=1; else echo "@@NAME@@: the installer is damaged (cut short or changed: its checksum does not match); download it again" >&2; exit 3; fi; }
# Jump Client installer for Linux: @@NAME@@
#
#   sh ./@@NAME@@ --install-dir DIR [--jc-jump-group G] [--jc-tag T] [--jc-comments C]
#                                [--silent] [--user U]          (--help lists every flag)
#
# This shell stub unpacks the gzip tar payload after it into a private temp dir, runs
# `jump-client install` from there with every argument untouched, removes the temp dir, and exits
# with the installer's status. It needs sh, tail, sha256sum, tar, gzip and mktemp; not Node.js.
#
# Line 1 runs first and checks the SHA-256 of everything after it (the rest of this stub and the
# payload) before anything else runs or is unpacked: a file cut short or changed anywhere past line
# 1 exits 3 ("damaged") having run nothing. It is one compound command, so a file cut inside it is
# a syntax error (non-zero), never a partial check. There is no #! line before it, since a file
# cut inside one would be an empty script that exits 0 (run it as `sh file`; `./file` works too:
# the shell runs a file without #! with sh). The payload after the last line is never read as
# script: every path through the stub exits before it.
set -u
umask 077
# Line 1 sets jc_checked=1 only when the checksum matched: a line 1 damaged so that it no longer
# checks (it is the one line the checksum cannot cover) stops here.
if [ "${jc_checked:-}" != 1 ]; then
  echo "@@NAME@@: the installer is damaged (its first line, the checksum check, did not run); download it again" >&2
  exit 3
fi

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
