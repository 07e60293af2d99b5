#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 machine (run as root):
# the Debian packages for the DANE lab (BIND, unbound, Exim, openssl/gnutls tools), Template Toolkit
# (libtemplate-perl: renders the cPanel page template as cPanel does), promtool (package
# prometheus: only its promtool is used, the server is never started), Chromium for
# the browser tests, and the npm dependencies. posttls-finger is unpacked from Debian's postfix
# package by the lab itself (postfix conflicts with exim4, so it is never installed); the
# libraries it links against are listed here.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -ne 0 ]; then echo "run as root (apt-get install)" >&2; exit 2; fi
apt-get update -q
# Debian's prometheus, pdns-server and knot packages start their servers on install; the tests only use
# promtool, and start their own pdns_server and knotd (own config, loopback high ports). A policy-rc.d that
# refuses every start (invoke-rc.d exit 101) holds them back during the install.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$POLICY" && chmod 755 "$POLICY"
  trap 'rm -f "$POLICY"' EXIT
fi
apt-get install -y -q --no-install-recommends \
  bind9 bind9-utils bind9-dnsutils unbound exim4-daemon-heavy perl systemd \
  openssl gnutls-bin ca-certificates iproute2 util-linux mount chromium \
  libicu72 libsasl2-2 libnsl2 libdb5.3 libssl3 netbase prometheus libtemplate-perl \
  apache2 postfix-mta-sts-resolver \
  pdns-server pdns-backend-sqlite3 knot
# ... and they never start later either (a pdns or knotd on port 53 would shadow the lab's; the
# MTA-STS lab starts its own apache2 and runs mta-sts-query by hand).
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl disable --now prometheus.service pdns.service knot.service apache2.service postfix-mta-sts-resolver.service >/dev/null 2>&1 || true; fi
npm ci --no-audit --no-fund
