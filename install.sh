#!/usr/bin/env bash
# Install or upgrade TLSA Manager on a cPanel & WHM server. Run as root from the built source
# tree (npm ci && npm run build first). Running it again upgrades in place and keeps the
# configuration (/etc/tlsa-manager) and state (/var/lib/tlsa-manager).
#
#   ./install.sh [--root DIR] [--systemctl PATH] [--skip-npm] [--source DIR]
#
# --root DIR        install into a cPanel-shaped tree under DIR (tests, images); default /.
#                   cPanel tools are taken from DIR/usr/local/cpanel/bin, systemctl from
#                   DIR/usr/bin/systemctl (never the host's for a root other than /).
# --systemctl PATH  the systemctl to use.
# --skip-npm        do not run `npm ci --omit=dev`; link node_modules from the source tree
#                   instead (development and tests).
# --source DIR      the built source tree (default: this script's directory).
set -euo pipefail
# Whatever the admin's shell uses, what we create gets the modes written here (0755 / 0644 unless
# stated): an umask of 000 made parent directories such as 3rdparty/ world-writable.
umask 022

PROG="tlsa-manager install"
ROOT="/"
SYSTEMCTL=""
SKIP_NPM=0
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
    --source) [ $# -ge 2 ] || die "--source needs a directory"; SOURCE="$2"; shift 2 ;;
    --source=*) SOURCE="${1#--source=}"; shift ;;
    --skip-npm) SKIP_NPM=1; shift ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option \"$1\"" "see ./install.sh --help" ;;
  esac
done

[ -f "$SOURCE/plugin/lib/common.sh" ] || die "$SOURCE is not a TLSA Manager source tree (plugin/lib/common.sh is missing)" "run install.sh from the source tree, or pass --source DIR"
# shellcheck source=plugin/lib/common.sh
. "$SOURCE/plugin/lib/common.sh"
PLUGIN_LIB="$SOURCE/plugin/lib"

# ---- Checks first: nothing is written unless every prerequisite is there. ----
require_root
resolve_root
require_cpanel
[ -f "$SOURCE/dist/cli.js" ] || die "$SOURCE/dist/cli.js is missing: the app is not built" "run: npm ci && npm run build (in $SOURCE), then run install.sh again"
[ -f "$SOURCE/package.json" ] || die "$SOURCE/package.json is missing" "run install.sh from the TLSA Manager source tree"
for tool in register_appconfig manage_hooks; do
  [ -x "$CPBIN/$tool" ] || die "$CPBIN/$tool is missing or not executable" "this cPanel installation looks incomplete; run /scripts/upcp --force"
done
NODE="$(find_node)"
resolve_systemctl
if [ "$SKIP_NPM" = 0 ]; then
  NPM="$(dirname "$NODE")/npm"
  [ -x "$NPM" ] || NPM="$(command -v npm || true)"
  [ -n "$NPM" ] || die "npm was not found next to $NODE or in PATH" "install the ea-nodejs20 package (it includes npm), or pass --skip-npm with node_modules already in place"
fi
say "using Node.js $("$NODE" -e 'process.stdout.write(process.versions.node)') at $NODE"

UPGRADE=0
[ -d "$APPDIR" ] && UPGRADE=1

# ---- The app: staged next to the old copy, swapped in when complete (a failed npm ci leaves the
# installed version untouched). ----
STAGE="$APPDIR.new.$$"
cleanup() { rm -rf -- "$STAGE"; }
trap cleanup EXIT
mkdir -p -- "$(dirname "$APPDIR")"
rm -rf -- "$STAGE"
mkdir -m 0755 -- "$STAGE"
for item in package.json package-lock.json README.md install.sh uninstall.sh dist views public plugin; do
  if [ -e "$SOURCE/$item" ]; then cp -R -- "$SOURCE/$item" "$STAGE/$item"; fi
done
mkdir -m 0755 -- "$STAGE/bin"
write_wrapper "$STAGE/bin/tlsa-manager-hook" "$APPDIR" hook 0700
if [ "$SKIP_NPM" = 1 ]; then
  if [ -d "$SOURCE/node_modules" ]; then ln -s -- "$SOURCE/node_modules" "$STAGE/node_modules"; fi
else
  say "installing dependencies (npm ci --omit=dev)"
  (cd "$STAGE" && PATH="$(dirname "$NODE"):$PATH" "$NPM" ci --omit=dev --no-audit --no-fund --loglevel=error) \
    || die "npm ci failed; the installed version (if any) is unchanged" "check the network access to the npm registry and run install.sh again"
fi
chown -R 0:0 -- "$STAGE"
chmod -R go-w -- "$STAGE"
if [ -d "$APPDIR" ]; then
  mv -- "$APPDIR" "$APPDIR.old.$$"
  mv -- "$STAGE" "$APPDIR"
  rm -rf -- "$APPDIR.old.$$"
else
  mv -- "$STAGE" "$APPDIR"
fi
say "app installed in $APPDIR"

# Command line wrapper for admins and cron.
install -d -m 0755 -- "$R/usr/local/bin"
write_wrapper "$R/usr/local/bin/tlsa-manager" "$APPDIR" "" 0755

# ---- Configuration and state: created when missing, never overwritten. ----
install -d -m 0700 -o 0 -g 0 -- "$R/etc/tlsa-manager" "$R/var/lib/tlsa-manager" "$R/var/log/tlsa-manager"
chmod 0700 -- "$R/etc/tlsa-manager" "$R/var/lib/tlsa-manager" "$R/var/log/tlsa-manager"
CONFIG="$R/etc/tlsa-manager/config.json"
if [ -e "$CONFIG" ]; then
  # It may hold an API token: whatever else changed, it stays root-only.
  chmod 0600 -- "$CONFIG"
  say "kept the existing configuration $CONFIG"
else
  install -m 0600 -o 0 -g 0 -- "$APPDIR/plugin/config.default.json" "$CONFIG"
  say "wrote the default configuration $CONFIG"
fi

# ---- WHM plugin: CGI and icon in place before the AppConfig is registered. ----
install -d -m 0755 -o 0 -g 0 -- "$CGIDIR" "$ICONDIR"
install -m 0700 -o 0 -g 0 -- "$APPDIR/plugin/cgi/index.cgi" "$CGIDIR/index.cgi"
install -m 0644 -o 0 -g 0 -- "$APPDIR/plugin/tlsa_manager.png" "$ICONDIR/tlsa_manager.png"
"$CPBIN/register_appconfig" "$APPDIR/plugin/tlsa_manager.conf" >/dev/null \
  || die "register_appconfig refused $APPDIR/plugin/tlsa_manager.conf" "see the message above"
say "registered the WHM plugin (WHM » Plugins » TLSA Manager (DANE))"

# ---- cPanel hooks: registrations from the app itself, or the built-in list. ----
WANTED="$(mktemp)"
CURRENT="$(mktemp)"
trap 'cleanup; rm -f -- "$WANTED" "$CURRENT"' EXIT
if TLSA_MANAGER_ROOT="$ROOT" "$NODE" "$APPDIR/dist/cli.js" hook --describe >"$WANTED" 2>/dev/null \
   && perl "$PLUGIN_LIB/hook-plan.pl" "$HOOK" "$WANTED" /dev/null >/dev/null 2>&1; then
  :
else
  warn "\"tlsa-manager hook --describe\" did not answer; registering the built-in hook list"
  cp -- "$APPDIR/plugin/lib/hooks-fallback.json" "$WANTED"
fi
sync_hooks "$WANTED" "$CURRENT"

# ---- systemd: units in place, then enabled and started. ----
install -d -m 0755 -- "$UNITDIR"
for unit in tlsa-manager.service tlsa-manager-reconcile.service tlsa-manager-reconcile.timer; do
  render_unit "$APPDIR/plugin/systemd/$unit" "$UNITDIR/$unit"
done
if [ -n "$SYSTEMCTL" ]; then
  "$SYSTEMCTL" daemon-reload
  "$SYSTEMCTL" enable --now tlsa-manager.service tlsa-manager-reconcile.timer
  # enable --now leaves an already running daemon on the old code.
  if [ "$UPGRADE" = 1 ]; then "$SYSTEMCTL" restart tlsa-manager.service; fi
  say "service tlsa-manager started; reconcile timer every 5 minutes"
else
  warn "no systemctl for $ROOT: units written to $UNITDIR but not enabled"
fi

say "done. Open WHM » Plugins » TLSA Manager (DANE); command line: tlsa-manager --help"
