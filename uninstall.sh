#!/usr/bin/env bash
# Remove TLSA Manager from a cPanel & WHM server: the service and timer, the cPanel hooks, the
# WHM plugin registration, CGI and icon, the app and the command line wrapper. The configuration
# (/etc/tlsa-manager), state (/var/lib/tlsa-manager) and logs (/var/log/tlsa-manager) stay
# unless --purge is given. The TLSA records already published stay in DNS (they keep matching
# until the next certificate renewal; remove them by hand if DANE is given up).
#
#   ./uninstall.sh [--root DIR] [--systemctl PATH] [--purge]
set -euo pipefail
# Whatever the admin's shell uses, what we create gets the modes written here (0755 / 0644 unless
# stated): an umask of 000 made parent directories such as 3rdparty/ world-writable.
umask 022

PROG="tlsa-manager uninstall"
ROOT="/"
SYSTEMCTL=""
PURGE=0
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { printf '%s: error: %s\n' "$PROG" "$1" >&2; [ -z "${2:-}" ] || printf '  fix: %s\n' "$2" >&2; exit 1; }
say() { printf '%s: %s\n' "$PROG" "$1"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$1" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT="$2"; shift 2 ;;
    --root=*) ROOT="${1#--root=}"; shift ;;
    --systemctl) [ $# -ge 2 ] || die "--systemctl needs a path"; SYSTEMCTL="$2"; shift 2 ;;
    --systemctl=*) SYSTEMCTL="${1#--systemctl=}"; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option \"$1\"" "see ./uninstall.sh --help" ;;
  esac
done

[ -f "$SOURCE/plugin/lib/common.sh" ] || die "plugin/lib/common.sh is missing next to uninstall.sh"
# shellcheck source=plugin/lib/common.sh
. "$SOURCE/plugin/lib/common.sh"
PLUGIN_LIB="$SOURCE/plugin/lib"

require_root
resolve_root
require_cpanel
if [ -z "$SYSTEMCTL" ] && [ -z "$R" ] && ! command -v systemctl >/dev/null; then
  warn "systemctl was not found; skipping the service and timer"
else
  resolve_systemctl
fi

# The service first, so nothing runs from files about to disappear.
if [ -n "$SYSTEMCTL" ]; then
  "$SYSTEMCTL" disable --now tlsa-manager.service tlsa-manager-reconcile.timer >/dev/null 2>&1 \
    || warn "systemctl could not disable tlsa-manager.service / tlsa-manager-reconcile.timer (not installed?)"
  "$SYSTEMCTL" stop tlsa-manager-reconcile.service >/dev/null 2>&1 || true
fi
for unit in tlsa-manager.service tlsa-manager-reconcile.service tlsa-manager-reconcile.timer tlsa-manager-mta-sts-subdomain@.service; do
  rm -f -- "$UNITDIR/$unit"
done
if [ -n "$SYSTEMCTL" ]; then "$SYSTEMCTL" daemon-reload; fi
say "service and timer removed"

# Every hook registered for our script, whatever the version that registered it.
if [ -x "$CPBIN/manage_hooks" ]; then
  WANTED="$(mktemp)"
  CURRENT="$(mktemp)"
  trap 'rm -f -- "$WANTED" "$CURRENT"' EXIT
  printf '[]' >"$WANTED"
  if "$CPBIN/manage_hooks" list --output=JSON >"$CURRENT" 2>/dev/null; then
    sync_hooks "$WANTED" "$CURRENT"
  else
    # Without a listing, delete the known registrations one by one.
    warn "manage_hooks list failed; deleting the known registrations one by one"
    perl "$PLUGIN_LIB/hook-plan.pl" "$HOOK" "$PLUGIN_LIB/hooks-fallback.json" /dev/null \
      | while IFS=$'\t' read -r _ c e s _; do
          "$CPBIN/manage_hooks" delete script "$HOOK" --manual 1 --category "$c" --event "$e" --stage "$s" >/dev/null 2>&1 || true
        done
  fi
  say "cPanel hooks removed"
else
  warn "$CPBIN/manage_hooks is missing; hooks not removed"
fi

if [ -x "$CPBIN/is_registered_with_appconfig" ] && ! "$CPBIN/is_registered_with_appconfig" whostmgr "$APP_NAME" >/dev/null 2>&1; then
  say "the WHM plugin was not registered"
elif [ -x "$CPBIN/unregister_appconfig" ]; then
  "$CPBIN/unregister_appconfig" "$APP_NAME" >/dev/null || warn "unregister_appconfig $APP_NAME failed"
  say "WHM plugin unregistered"
else
  warn "$CPBIN/unregister_appconfig is missing; the WHM plugin registration was left"
fi

# Our TLS-RPT router and transport out of /etc/exim.conf.local (nothing else in it changes).
tlsrpt_paths
if exim_local_edit remove; then
  exim_rebuild || warn "/scripts/buildeximconf failed after removing TLSA Manager's TLS-RPT router from $EXIM_LOCAL; run it again"
  say "TLS-RPT router removed from $EXIM_LOCAL (previous copy $EXIM_LOCAL_BACKUP)"
fi

# The account owners' page: out of cPanel's menu and Feature Manager first, then its files.
if [ -x "$PLUGIN_SCRIPTS/uninstall_plugin" ] && [ -d "$APPDIR/plugin/cpanel" ] && [ -d "$THEMEDIR" ]; then
  "$PLUGIN_SCRIPTS/uninstall_plugin" "$APPDIR/plugin/cpanel" --theme jupiter >/dev/null || warn "uninstall_plugin failed; the link may stay in cPanel's menu"
fi
rm -rf -- "$THEMEDIR/tlsa_manager" "$ADMINBIN_DIR"
rm -f -- "$UAPI_MODULE"

rm -rf -- "$CGIDIR"
rm -f -- "$ICONDIR/tlsa_manager.png"
rm -f -- "$R/usr/local/bin/tlsa-manager"
rm -rf -- "$APPDIR"
say "files removed"

if [ "$PURGE" = 1 ]; then
  rm -rf -- "$R/etc/tlsa-manager" "$R/var/lib/tlsa-manager" "$R/var/log/tlsa-manager" "$R/var/spool/tlsa-manager"
  say "configuration, state, logs and the TLS-RPT spool removed (--purge)"
else
  say "kept $R/etc/tlsa-manager, $R/var/lib/tlsa-manager, $R/var/log/tlsa-manager and $R/var/spool/tlsa-manager (remove them with --purge)"
fi
say "done. TLSA records already published stay in DNS."
