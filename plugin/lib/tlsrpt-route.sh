#!/bin/bash
# Puts TLSA Manager's TLS-RPT router and transport back into /etc/exim.conf.local exactly as
# install.sh does (common.sh tlsrpt_route_add: backup, new file renamed into place,
# /scripts/buildeximconf, restartsrv_exim, the old file back when the rebuild fails), and rebuilds
# even when the lines are there. Run by "tlsa-manager tlsrpt repair-route" as root:
#   tlsrpt-route.sh ROOT
# Exit 0 = repaired (file changed or configuration rebuilt), 1 = failed (the reason on stderr).
# TLSA_MANAGER_TLSRPT_PIPE_USER / _GROUP replace mailnull / mail (the lab's Exim has no mailnull).
set -u
PROG="tlsa-manager tlsrpt repair-route"
say() { printf '%s\n' "$1"; }
warn() { printf '%s\n' "$1" >&2; }
die() { printf '%s%s\n' "$1" "${2:+ (fix: $2)}" >&2; exit 1; }
[ $# = 1 ] || die "usage: tlsrpt-route.sh ROOT"
ROOT="$1"
PLUGIN_LIB="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$PLUGIN_LIB/common.sh"
resolve_root
tlsrpt_paths
TLSRPT_PIPE_USER="${TLSA_MANAGER_TLSRPT_PIPE_USER:-$TLSRPT_PIPE_USER}"
TLSRPT_PIPE_GROUP="${TLSA_MANAGER_TLSRPT_PIPE_GROUP:-$TLSRPT_PIPE_GROUP}"
rc=0
tlsrpt_route_add always || rc=$?
case "$rc" in
  0) say "our router and transport are in $EXIM_LOCAL${EXIM_LOCAL_BACKUP:+ (previous copy $EXIM_LOCAL_BACKUP)}; Exim's configuration was rebuilt" ;;
  1) say "$EXIM_LOCAL already had our lines; Exim's configuration was rebuilt" ;;
  *) exit 1 ;;
esac
exit 0
