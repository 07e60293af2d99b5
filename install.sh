#!/usr/bin/env bash
# Install or upgrade TLSA Manager on a cPanel & WHM server. Run as root from the unpacked release
# tarball (npm run package makes tlsa-manager-<version>.tar.gz: it needs neither npm nor a
# compiler), or from a built checkout (npm ci && npm run build first; then npm installs the
# production dependencies). Running it again, or a newer release's, upgrades in place and keeps
# the configuration (/etc/tlsa-manager) and state (/var/lib/tlsa-manager).
#
#   ./install.sh [--root DIR] [--systemctl PATH] [--skip-npm] [--source DIR]
#
# --root DIR        install into a cPanel-shaped tree under DIR (tests, images); default /.
#                   cPanel tools are taken from DIR/usr/local/cpanel/bin, systemctl from
#                   DIR/usr/bin/systemctl (never the host's for a root other than /).
# --systemctl PATH  the systemctl to use.
# --skip-npm        from a checkout: do not run `npm ci --omit=dev`; link node_modules from the
#                   source tree instead (development and tests). A release ignores it.
# --source DIR      the release or built source tree (default: this script's directory).
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
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option \"$1\"" "see ./install.sh --help" ;;
  esac
done

[ -f "$SOURCE/plugin/lib/common.sh" ] || die "$SOURCE is not a TLSA Manager source tree (plugin/lib/common.sh is missing)" "run install.sh from the source tree, or pass --source DIR"
# shellcheck source=plugin/lib/common.sh
. "$SOURCE/plugin/lib/common.sh"
PLUGIN_LIB="$SOURCE/plugin/lib"

# The npm next to the chosen node (ea-nodejs20 ships one), else PATH; empty when there is none.
find_npm() {
  local npm
  npm="$(dirname "$NODE")/npm"
  [ -x "$npm" ] || npm="$(command -v npm || true)"
  printf '%s' "$npm"
}

# Prints why better-sqlite3 in DIR does not load and open a database with $NODE; silent when it does.
native_module_error() {
  "$NODE" -e 'try { const D = require(process.argv[1]); new D(":memory:").close(); } catch (e) { process.stdout.write(String(e && e.message).split("\n")[0] || "unknown error"); process.exit(1); }' "$1" 2>&1 && return 0
  return 1
}

# better-sqlite3 is the one native module: it must load with the Node.js found here (its ABI) and
# this system's glibc and libstdc++. When it does not, it is rebuilt in the staged copy if the
# build tools are there; otherwise the install stops before anything is replaced.
ensure_native_module() {
  local stage="$1" dir="$1/node_modules/better-sqlite3" err missing="" nodedir tool
  [ -d "$dir" ] || die "$dir is missing: the dependencies were not installed" "install from the release tarball, or run npm ci in the source tree"
  if err="$(native_module_error "$dir")"; then return 0; fi
  warn "better-sqlite3 (the SQLite module, native code) does not load with Node.js $(node_version "$NODE") here: $err"
  if [ -L "$stage/node_modules" ]; then
    die "better-sqlite3 in $SOURCE/node_modules does not load with $NODE: $err" "run npm rebuild better-sqlite3 in $SOURCE (or install from the release tarball), then run install.sh again; nothing was changed"
  fi
  for tool in make python3; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
  command -v g++ >/dev/null || command -v c++ >/dev/null || missing="$missing g++"
  [ -n "$NPM" ] || missing="$missing npm"
  if [ -n "$missing" ]; then
    die "better-sqlite3 does not load on this system ($err) and cannot be rebuilt here: missing$missing; nothing was changed" "install the build tools (AlmaLinux/Rocky/CloudLinux: dnf install gcc-c++ make python3; Ubuntu: apt-get install g++ make python3) and Node.js with npm (ea-nodejs20 includes it), then run install.sh again"
  fi
  # Headers of the Node.js in use, so node-gyp does not have to download them.
  nodedir="$(cd "$(dirname "$(readlink -f "$NODE")")/.." && pwd)"
  [ -f "$nodedir/include/node/node.h" ] || nodedir=""
  say "rebuilding better-sqlite3 for this system with $NPM"
  (cd "$stage" && PATH="$(dirname "$NODE"):$PATH" "$NPM" rebuild better-sqlite3 --build-from-source --no-audit --no-fund --loglevel=error ${nodedir:+"--nodedir=$nodedir"}) \
    || die "rebuilding better-sqlite3 failed (see above); nothing was changed" "check that gcc-c++, make and python3 work, then run install.sh again"
  err="$(native_module_error "$dir")" || die "better-sqlite3 still does not load after the rebuild: $err; nothing was changed" "report this with the output of: $NODE --version; ldd --version"
  say "better-sqlite3 rebuilt for this system"
}

# ---- Checks first: nothing is written unless every prerequisite is there. ----
require_root
resolve_root
require_cpanel
[ -f "$SOURCE/dist/cli.js" ] || die "$SOURCE/dist/cli.js is missing: the app is not built" "run: npm ci && npm run build (in $SOURCE), then run install.sh again"
[ -f "$SOURCE/package.json" ] || die "$SOURCE/package.json is missing" "run install.sh from the TLSA Manager source tree"
# A release tarball carries its production node_modules (and release.json): no npm needed.
RELEASE=0
if [ -f "$SOURCE/release.json" ]; then
  RELEASE=1
  SKIP_NPM=0
  [ -d "$SOURCE/node_modules/better-sqlite3" ] || die "$SOURCE/node_modules is incomplete (no better-sqlite3): the release was not unpacked whole" "unpack tlsa-manager-<version>.tar.gz again and run its install.sh"
fi
for tool in register_appconfig manage_hooks; do
  [ -x "$CPBIN/$tool" ] || die "$CPBIN/$tool is missing or not executable" "this cPanel installation looks incomplete; run /scripts/upcp --force"
done
# Exim's TLS-RPT pipe runs with this group; the spool is made for it.
perl -e 'exit(defined getgrnam($ARGV[0]) ? 0 : 1)' "$TLSRPT_PIPE_GROUP" || die "the group \"$TLSRPT_PIPE_GROUP\" does not exist; Exim's TLS-RPT pipe runs with it (cPanel's Exim delivers as mailnull:mail)" "check this is a cPanel server with Exim (WHM » Service Manager), then run install.sh again"
NODE="$(find_node)"
resolve_systemctl
NPM="$(find_npm)"
if [ "$RELEASE" = 0 ] && [ "$SKIP_NPM" = 0 ] && [ -z "$NPM" ]; then
  die "npm was not found next to $NODE or in PATH" "install from the release tarball (it needs no npm), install the ea-nodejs20 package (it includes npm), or pass --skip-npm with node_modules already in place"
fi
say "using Node.js $(node_version "$NODE") at $NODE"

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
# What Exim's pipe runs for tlsrpt@<hostname> (as the unprivileged Exim user: 0755).
write_wrapper "$STAGE/bin/tlsa-manager-tlsrpt-ingest" "$APPDIR" "tlsrpt ingest" 0755
if [ "$RELEASE" = 1 ]; then
  cp -R -- "$SOURCE/node_modules" "$STAGE/node_modules"
  say "copied the release's dependencies (no npm needed)"
elif [ "$SKIP_NPM" = 1 ]; then
  if [ -d "$SOURCE/node_modules" ]; then ln -s -- "$SOURCE/node_modules" "$STAGE/node_modules"; fi
else
  say "installing dependencies (npm ci --omit=dev)"
  (cd "$STAGE" && PATH="$(dirname "$NODE"):$PATH" "$NPM" ci --omit=dev --no-audit --no-fund --loglevel=error) \
    || die "npm ci failed; the installed version (if any) is unchanged" "check the network access to the npm registry and run install.sh again"
fi
ensure_native_module "$STAGE"
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
# TLS-RPT spool (issue 14): Exim's pipe runs "tlsa-manager tlsrpt ingest" as mailnull, group mail,
# which may only drop files here (sticky, write+search for the group, listable and readable by
# root only); the timer imports them as root. Same mode as src/tlsrpt/spool.ts SPOOL_MODE.
tlsrpt_paths
install -d -m 0755 -o 0 -g 0 -- "$R/var/spool/tlsa-manager"
install -d -m 1730 -o 0 -g "$TLSRPT_PIPE_GROUP" -- "$TLSRPT_SPOOL"
chown "0:$TLSRPT_PIPE_GROUP" -- "$TLSRPT_SPOOL"
chmod 1730 -- "$TLSRPT_SPOOL"
CONFIG="$R/etc/tlsa-manager/config.json"
if [ -e "$CONFIG" ]; then
  # It may hold an API token: whatever else changed, it stays root-only.
  chmod 0600 -- "$CONFIG"
  say "kept the existing configuration $CONFIG"
else
  install -m 0600 -o 0 -g 0 -- "$APPDIR/plugin/config.default.json" "$CONFIG"
  say "wrote the default configuration $CONFIG"
fi

# ---- cPanel notifications: our application's importance in Contact Manager (from the config). ----
cpanel_importance "$CONFIG" || true

# ---- WHM plugin: CGI and icon in place before the AppConfig is registered. ----
install -d -m 0755 -o 0 -g 0 -- "$CGIDIR" "$ICONDIR"
install -m 0700 -o 0 -g 0 -- "$APPDIR/plugin/cgi/index.cgi" "$CGIDIR/index.cgi"
install -m 0644 -o 0 -g 0 -- "$APPDIR/plugin/tlsa_manager.png" "$ICONDIR/tlsa_manager.png"
"$CPBIN/register_appconfig" "$APPDIR/plugin/tlsa_manager.conf" >/dev/null \
  || die "register_appconfig refused $APPDIR/plugin/tlsa_manager.conf" "see the message above"
say "registered the WHM plugin (WHM » Plugins » TLSA Manager (DANE))"

# ---- The account owners' page (issue 28): the page files into the Jupiter theme, the UAPI module
# and the root AdminBin where cPanel looks for custom ones; then install_plugin (cPanel's own
# installer: scripts/install_plugin, Cpanel/Plugin/Install.pm) adds the link to cPanel » Email and
# the Feature Manager feature tlsa_manager. Without the theme or the installer the rest goes on. ----
if [ -d "$THEMEDIR" ] && [ -x "$PLUGIN_SCRIPTS/install_plugin" ]; then
  install -d -m 0755 -o 0 -g 0 -- "$THEMEDIR/tlsa_manager" "$(dirname "$UAPI_MODULE")"
  install -d -m 0700 -o 0 -g 0 -- "$ADMINBIN_DIR"
  install -m 0644 -o 0 -g 0 -- "$APPDIR"/plugin/cpanel/tlsa_manager/* "$THEMEDIR/tlsa_manager/"
  install -m 0644 -o 0 -g 0 -- "$APPDIR/plugin/cpanel/Cpanel/API/TLSAManager.pm" "$UAPI_MODULE"
  install -m 0700 -o 0 -g 0 -- "$APPDIR/plugin/cpanel/bin/admin/TLSAManager/Account" "$ADMINBIN_DIR/Account"
  install -m 0644 -o 0 -g 0 -- "$APPDIR/plugin/cpanel/bin/admin/TLSAManager/Account.conf" "$ADMINBIN_DIR/Account.conf"
  if "$PLUGIN_SCRIPTS/install_plugin" "$APPDIR/plugin/cpanel" --theme jupiter >/dev/null; then
    say "installed the account owners' page (cPanel » Email » Email Security (DANE); Feature Manager feature tlsa_manager)"
  else
    warn "install_plugin refused $APPDIR/plugin/cpanel; the account owners' page is not in cPanel's menu (see the message above)"
  fi
else
  warn "cPanel's Jupiter theme or scripts/install_plugin was not found; the account owners' page was not installed"
fi

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

# ---- Exim: tlsrpt@<hostname> delivered to the ingest command (router + transport of ours in
# /etc/exim.conf.local; a failing rebuild puts the old file back). ----
rc=0
tlsrpt_route_add || rc=$?
case "$rc" in
  0) say "Exim delivers $TLSRPT_LOCAL_PART@<hostname> to TLSA Manager (router tlsa_manager_tlsrpt in $EXIM_LOCAL${EXIM_LOCAL_BACKUP:+; previous copy $EXIM_LOCAL_BACKUP})" ;;
  1) say "Exim already delivers $TLSRPT_LOCAL_PART@<hostname> to TLSA Manager ($EXIM_LOCAL unchanged)" ;;
esac

# ---- systemd: units in place, then enabled and started. ----
install -d -m 0755 -- "$UNITDIR"
for unit in tlsa-manager.service tlsa-manager-reconcile.service tlsa-manager-reconcile.timer tlsa-manager-mta-sts-subdomain@.service; do
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
