# Shared by install.sh and uninstall.sh (sourced, not run). Expects ROOT, SYSTEMCTL, PROG and the
# die/say/warn functions from the caller. bash.
# shellcheck shell=bash

APP_NAME="tlsa_manager"

require_root() {
  [ "$(id -u)" = 0 ] || die "must be run as root (it installs a WHM plugin, cPanel hooks and a system service)" "run it again with sudo or as root"
}

# Paths under the root. Paths go into generated shell wrappers and systemd units, so only plain
# path characters are accepted (no quoting games).
# shellcheck disable=SC2034  # the paths are used by install.sh and uninstall.sh
resolve_root() {
  case "$ROOT" in /*) ;; *) die "--root must be an absolute path (got \"$ROOT\")" ;; esac
  plain_path "$ROOT" || die "--root \"$ROOT\" contains characters other than letters, digits and ._+-/" "use a plain directory name"
  R="${ROOT%/}"
  while [ "$R" != "${R%/}" ]; do R="${R%/}"; done
  CPBIN="$R/usr/local/cpanel/bin"
  APPDIR="$R/usr/local/cpanel/3rdparty/tlsa-manager"
  CGIDIR="$R/usr/local/cpanel/whostmgr/docroot/cgi/$APP_NAME"
  ICONDIR="$R/usr/local/cpanel/whostmgr/docroot/addon_plugins"
  UNITDIR="$R/etc/systemd/system"
  # The account owners' page (issue 28): Jupiter's theme, where custom UAPI modules and AdminBins go.
  THEMEDIR="$R/usr/local/cpanel/base/frontend/jupiter"
  UAPI_MODULE="$R/usr/local/cpanel/Cpanel/API/TLSAManager.pm"
  ADMINBIN_DIR="$R/usr/local/cpanel/bin/admin/TLSAManager"
  PLUGIN_SCRIPTS="$R/usr/local/cpanel/scripts"
  HOOK="$APPDIR/bin/tlsa-manager-hook"
}

plain_path() {
  case "$1" in *[!A-Za-z0-9._+/-]*) return 1 ;; *) return 0 ;; esac
}

require_cpanel() {
  [ -d "$R/usr/local/cpanel" ] || die "cPanel & WHM was not found ($R/usr/local/cpanel does not exist); TLSA Manager is a WHM plugin and needs a cPanel server" "install it on a cPanel & WHM server, or use --root DIR for a cPanel-shaped test tree"
}

# The version of a node binary ("20.11.1"), or nothing when it does not run.
node_version() {
  timeout 20 "$1" -e 'process.stdout.write(process.versions.node)' 2>/dev/null || true
}

# Candidate node binaries, best first: the one cPanel's EasyApache marks active, any installed
# ea-nodejs, then PATH.
node_candidates() {
  local active p
  if [ -r "$R/etc/cpanel/ea4/passenger.nodejs" ]; then
    active="$(head -n 1 -- "$R/etc/cpanel/ea4/passenger.nodejs" | tr -d '[:space:]')"
    if [ -n "$active" ]; then
      if [ -n "$R" ]; then printf '%s\n' "$R$active"; fi
      printf '%s\n' "$active"
    fi
  fi
  for p in "$R"/opt/cpanel/ea-nodejs*/bin/node; do
    [ -e "$p" ] && printf '%s\n' "$p"
  done | sort -V -r
  command -v node || true
}

# Prints the first Node.js >= 20 found; dies naming what was found otherwise.
find_node() {
  local n v major seen=""
  while IFS= read -r n; do
    if [ -z "$n" ] || [ ! -x "$n" ] || [ -d "$n" ]; then continue; fi
    v="$(node_version "$n")"
    major="${v%%.*}"
    case "$major" in ''|*[!0-9]*) seen="$seen $n (does not run);"; continue ;; esac
    if [ "$major" -ge 20 ]; then
      plain_path "$n" || die "the Node.js path \"$n\" contains unusual characters" "install ea-nodejs20 from WHM » EasyApache 4"
      printf '%s\n' "$n"
      return 0
    fi
    seen="$seen $n (version $v);"
  done < <(node_candidates)
  if [ -n "$seen" ]; then
    die "TLSA Manager needs Node.js 20 or newer; found only:${seen%;}" "install ea-nodejs20 (WHM » EasyApache 4 » Customize » Additional Packages » ea-nodejs20, or: dnf install ea-nodejs20), then run install.sh again"
  fi
  die "Node.js was not found (no $R/etc/cpanel/ea4/passenger.nodejs, no $R/opt/cpanel/ea-nodejs*, no node in PATH); TLSA Manager needs Node.js 20 or newer" "install ea-nodejs20 (WHM » EasyApache 4 » Customize » Additional Packages » ea-nodejs20, or: dnf install ea-nodejs20), then run install.sh again"
}

# SYSTEMCTL: --systemctl, else the root's own; empty for a --root tree without one (the units are
# written but nothing is enabled: never the host's systemd for a tree that is not the host).
resolve_systemctl() {
  if [ -n "$SYSTEMCTL" ]; then
    [ -x "$SYSTEMCTL" ] || die "--systemctl \"$SYSTEMCTL\" is not an executable file"
  elif [ -z "$R" ]; then
    SYSTEMCTL="$(command -v systemctl || true)"
    [ -n "$SYSTEMCTL" ] || die "systemctl was not found; TLSA Manager runs its web service and timer under systemd" "run it on a systemd server (every supported cPanel OS is)"
  elif [ -x "$R/usr/bin/systemctl" ]; then
    SYSTEMCTL="$R/usr/bin/systemctl"
  fi
}

# A tiny sh wrapper that runs the app with the chosen node: FILE APPDIR SUBCOMMAND MODE.
write_wrapper() {
  local file="$1" appdir="$2" sub="$3" mode="$4" tmp
  tmp="$(mktemp "$file.XXXXXX")"
  {
    printf '#!/bin/sh\n# Written by TLSA Manager install.sh (rewritten on every install).\n'
    if [ "$sub" = hook ]; then
      # cPanel runs hooks as root in the environment of whoever triggered the event (a reseller, a
      # customer through UAPI): start from an empty one, so TLSA_MANAGER_ROOT, CLOUDFLARE_* and
      # the like cannot steer a root process. The root is fixed at install time.
      # The Perl client hands the event (without its private key) to the running service over the
      # root-only socket and falls back to the Node.js hook when the service does not answer.
      # Socket, Node.js, app and root are fixed here; a root other than / never uses the host's socket.
      printf "exec /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 /usr/bin/perl '%s/plugin/bin/tlsa-manager-hook' --socket '%s/run/tlsa-manager/web.sock' --node '%s' --cli '%s/dist/cli.js'%s \"\$@\"\n" "$appdir" "$R" "$NODE" "$appdir" "${R:+ --root '$R'}"
    else
      if [ -n "$R" ]; then printf "TLSA_MANAGER_ROOT='%s'\nexport TLSA_MANAGER_ROOT\n" "$R"; fi
      printf "exec '%s' '%s/dist/cli.js'%s \"\$@\"\n" "$NODE" "$appdir" "${sub:+ $sub}"
    fi
  } >"$tmp"
  chmod "$mode" -- "$tmp"
  chown 0:0 -- "$tmp"
  mv -f -- "$tmp" "$file"
}

render_unit() {
  local src="$1" dst="$2" env="# Environment: none (root /)" rw tmp
  if [ -n "$R" ]; then env="Environment=TLSA_MANAGER_ROOT=$R"; fi
  rw="$R/etc/tlsa-manager $R/var/lib/tlsa-manager $R/var/log/tlsa-manager -$R/var/named -$R/usr/local/cpanel/logs"
  tmp="$(mktemp "$dst.XXXXXX")"
  sed -e "s|@NODE@|$NODE|g" -e "s|@APPDIR@|$APPDIR|g" -e "s|@READWRITE@|$rw|g" -e "s|@ENVIRONMENT@|$env|g" -- "$src" >"$tmp"
  chmod 0644 -- "$tmp"
  chown 0:0 -- "$tmp"
  mv -f -- "$tmp" "$dst"
}

# Bring cPanel's hook registry for our hook script to WANTED (a JSON file; "[]" removes ours).
# CURRENT is a scratch file for the listing.
sync_hooks() {
  local wanted="$1" current="$2" plan action c e s esc weight
  local -a args
  if ! "$CPBIN/manage_hooks" list --output=JSON >"$current" 2>/dev/null; then
    warn "manage_hooks list failed; re-registering each hook (delete, then add)"
    printf 'null' >"$current"
    plan="$(perl "$PLUGIN_LIB/hook-plan.pl" "$HOOK" "$wanted" "$current")" || die "the hook registrations are not valid"
    plan="$(printf '%s\n' "$plan" | awk -F '\t' '$1 == "add" { print "delete\t" $2 "\t" $3 "\t" $4 } { print }')"
  else
    plan="$(perl "$PLUGIN_LIB/hook-plan.pl" "$HOOK" "$wanted" "$current")" || die "the hook registrations or the manage_hooks listing could not be read"
  fi
  while IFS=$'\t' read -r action c e s esc weight; do
    case "$action" in
      delete)
        "$CPBIN/manage_hooks" delete script "$HOOK" --manual 1 --category "$c" --event "$e" --stage "$s" >/dev/null 2>&1 \
          || warn "manage_hooks could not delete the $c $e $s hook (it may not exist)"
        ;;
      add)
        args=(add script "$HOOK" --manual 1 --category "$c" --event "$e" --stage "$s" --weight "$weight")
        if [ "$esc" = 1 ]; then args+=(--escalateprivs 1); fi
        "$CPBIN/manage_hooks" "${args[@]}" >/dev/null || die "manage_hooks could not add the $c $e $s hook" "see the message above"
        ;;
      '') ;;
      *) die "internal: unexpected hook plan line \"$action\"" ;;
    esac
  done <<<"$plan"
}

# ---- TLS-RPT mail (issue 14): tlsrpt@<hostname> piped to "tlsa-manager tlsrpt ingest". ----
# cPanel's own routers cannot do it: /etc/aliases pipes get no uid (system_aliases sets no user)
# and their address_pipe transport bounces any output; valiases never apply to the hostname
# (virtual_aliases has domains = !$primary_hostname). So a router and transport of ours go into
# /etc/exim.conf.local, the file WHM's Exim Configuration Manager » Advanced Editor keeps across
# updates, and /scripts/buildeximconf rebuilds /etc/exim.conf (docs/reference-notes.md).
# The pipe runs as cPanel's Exim user and mail group, like cPanel's own local deliveries; the
# spool is the one place that user may write (root:mail 1730: mail may create, only root lists).
TLSRPT_LOCAL_PART="tlsrpt"
TLSRPT_PIPE_USER="mailnull"
TLSRPT_PIPE_GROUP="mail"

tlsrpt_paths() {
  EXIM_LOCAL="$R/etc/exim.conf.local"
  TLSRPT_SPOOL="$R/var/spool/tlsa-manager/tlsrpt"
  TLSRPT_INGEST="$APPDIR/bin/tlsa-manager-tlsrpt-ingest"
}

tlsrpt_router_block() {
  cat <<BLOCK
# TLS reports (RFC 8460) mailed to ${TLSRPT_LOCAL_PART}@<this server's hostname>: to TLSA Manager.
tlsa_manager_tlsrpt:
    driver = accept
    domains = \$primary_hostname
    local_parts = ${TLSRPT_LOCAL_PART}
    transport = tlsa_manager_tlsrpt_pipe
BLOCK
}

# Exit 0 = delivered or refused (never a bounce), 75 = deferred (Exim retries); the one output
# line goes to Exim's main log, never back to the sender.
tlsrpt_transport_block() {
  cat <<BLOCK
tlsa_manager_tlsrpt_pipe:
    driver = pipe
    command = ${TLSRPT_INGEST}
    user = ${TLSRPT_PIPE_USER}
    group = ${TLSRPT_PIPE_GROUP}
    temp_errors = 75
    timeout = 2m
    log_output
    return_fail_output = false
    return_output = false
BLOCK
}

# exim_local_edit add|remove: writes the new /etc/exim.conf.local next to it and renames it in
# place (never half a file), after copying the old one to exim.conf.local.tlsa-manager-<time>.
# Returns 0 when the file changed, 1 when there was nothing to do, 2 on failure (reported).
exim_local_edit() {
  local action="$1" dir tmp router transport backup
  dir="$(dirname -- "$EXIM_LOCAL")"
  [ -d "$dir" ] || { warn "$dir does not exist; the TLS-RPT mail route was not set up"; return 2; }
  tmp="$(mktemp "$EXIM_LOCAL.tlsa-manager-new.XXXXXX")"
  router="$(mktemp)"
  transport="$(mktemp)"
  tlsrpt_router_block >"$router"
  tlsrpt_transport_block >"$transport"
  local -a args=("$action" "$EXIM_LOCAL")
  if [ "$action" = add ]; then args+=("$router" "$transport"); fi
  local rc=0
  perl "$PLUGIN_LIB/exim-local.pl" "${args[@]}" >"$tmp" 2>"$tmp.err" || rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != 10 ]; then
    warn "$EXIM_LOCAL was left unchanged: $(cat -- "$tmp.err")"
    rm -f -- "$tmp" "$tmp.err" "$router" "$transport"
    return 2
  fi
  rm -f -- "$tmp.err" "$router" "$transport"
  if [ "$rc" = 10 ]; then rm -f -- "$tmp"; return 1; fi
  if [ -e "$EXIM_LOCAL" ]; then
    backup="$EXIM_LOCAL.tlsa-manager-$(date -u +%Y%m%dT%H%M%SZ)-$$"
    cp -p -- "$EXIM_LOCAL" "$backup"
    chmod --reference="$EXIM_LOCAL" -- "$tmp"
    chown --reference="$EXIM_LOCAL" -- "$tmp"
    EXIM_LOCAL_BACKUP="$backup"
  else
    chmod 0644 -- "$tmp"
    chown 0:0 -- "$tmp"
    EXIM_LOCAL_BACKUP=""
  fi
  mv -f -- "$tmp" "$EXIM_LOCAL"
  return 0
}

# tlsrpt_route_add [always]: our router and transport into /etc/exim.conf.local, then
# /etc/exim.conf rebuilt and Exim restarted (install.sh, and "tlsa-manager tlsrpt repair-route"
# through plugin/lib/tlsrpt-route.sh). A rebuild that fails puts the old exim.conf.local back (or
# removes the one we created) and rebuilds again. With "always" the rebuild also runs when the
# file already had our lines (the route can be lost in /etc/exim.conf alone).
# Returns 0 = changed and rebuilt, 1 = nothing to do, 2 = failed (reported by warn).
tlsrpt_route_add() {
  local always="${1:-}" rc=0
  EXIM_LOCAL_BACKUP=""
  exim_local_edit add || rc=$?
  [ "$rc" = 2 ] && return 2
  if [ "$rc" = 1 ] && [ "$always" != always ]; then return 1; fi
  if exim_rebuild; then return "$rc"; fi
  if [ "$rc" = 0 ]; then
    if [ -n "$EXIM_LOCAL_BACKUP" ]; then cp -p -- "$EXIM_LOCAL_BACKUP" "$EXIM_LOCAL.tlsa-manager-restore.$$" && mv -f -- "$EXIM_LOCAL.tlsa-manager-restore.$$" "$EXIM_LOCAL"; else rm -f -- "$EXIM_LOCAL"; fi
    exim_rebuild || true
  fi
  warn "/scripts/buildeximconf refused the Exim configuration with TLSA Manager's TLS-RPT router; $EXIM_LOCAL was put back as it was and TLS reports are not received (see WHM » Exim Configuration Manager)"
  return 2
}

# cPanel's documented way to apply /etc/exim.conf.local: rebuild /etc/exim.conf (it checks the
# result and keeps the old one when Exim refuses it), then restart Exim.
exim_rebuild() {
  local build="$R/usr/local/cpanel/scripts/buildeximconf" restart="$R/usr/local/cpanel/scripts/restartsrv_exim"
  if [ ! -x "$build" ]; then
    warn "$build is missing: run /scripts/buildeximconf and /scripts/restartsrv_exim yourself"
    return 0
  fi
  "$build" >/dev/null 2>&1 || return 1
  if [ -x "$restart" ]; then "$restart" >/dev/null 2>&1 || warn "restartsrv_exim failed; restart Exim yourself (/scripts/restartsrv_exim)"; fi
  return 0
}

# Our notifications' importance in WHM » Server Contacts » Contact Manager (issue 23). cPanel gives
# an application Cpanel/iContact/EventImportance.pm does not list Low importance, which reaches
# only contact methods set to "All"; so install sets application TLSAManager's importance (its
# '*' entry, Whostmgr/API/1/Contact.pm set_application_contact_importance; per-event entries an
# admin made stay) to alerts.cpanelImportance of the config (high by default; the config is kept
# on upgrade, so the admin's choice is what is set again). Never fatal: alerts still reach "All".
cpanel_importance() {
  local config="$1" name out
  name="$(perl -MJSON::PP -e '
    my $c = eval { local $/; open my $fh, "<", $ARGV[0] or die; JSON::PP::decode_json(<$fh>) } || {};
    my $v = ref $c->{alerts} eq "HASH" && defined $c->{alerts}{cpanelImportance} ? $c->{alerts}{cpanelImportance} : "high";
    my %name = (high => "High", medium => "Medium", low => "Low");
    print $name{$v} // "";
  ' "$config" 2>/dev/null)"
  if [ -z "$name" ]; then
    warn "alerts.cpanelImportance in $config is not high, medium or low; cPanel notifications keep their importance (fix the value, then run install.sh again)"
    return 1
  fi
  if [ ! -x "$CPBIN/whmapi1" ]; then
    warn "$CPBIN/whmapi1 is missing: set the importance yourself (whmapi1 set_application_contact_importance app=TLSAManager importance=$name)"
    return 1
  fi
  out="$("$CPBIN/whmapi1" --output=json set_application_contact_importance app=TLSAManager "importance=$name" 2>&1)"
  if ! printf '%s' "$out" | perl -MJSON::PP -e 'local $/; my $r = eval { JSON::PP::decode_json(<STDIN>) }; exit(($r && ref $r->{metadata} eq "HASH" && $r->{metadata}{result}) ? 0 : 1)'; then
    warn "whmapi1 set_application_contact_importance refused: $(printf '%s' "$out" | head -c 300); cPanel notifications keep their importance (WHM » Server Contacts » Contact Manager, application TLSAManager)"
    return 1
  fi
  say "cPanel notifications of TLSA Manager have importance $name (WHM » Server Contacts » Contact Manager)"
}
