#!/bin/sh
# Recompute the KNOWN_ISSUERS entries of src/tlsa/known-issuers.ts from the PEM files in
# test/fixtures/issuers/ and print them as TypeScript. Paste the output over the array body.
#
# Nothing is trusted on faith: every intermediate must verify (signature, not dates) up to one of
# the two ISRG roots kept beside it, whose SHA-256 fingerprints are pinned below from the values
# Let's Encrypt and the Mozilla root store publish. Cross-signed roots (root-*.pem) are used only
# as untrusted links (Root YR by X1, Root YE by X2). Any failure stops the script: a wrong pin is
# worse than a missing one.
#
# Adding an intermediate: save its PEM (from letsencrypt.org/certificates, the letsencrypt/website
# repository's static/certs/, or crt.sh) as test/fixtures/issuers/<lower-case name>.pem, run this
# script, paste, run `npx vitest run test/unit/known-issuers.test.ts`.
set -eu
dir=$(cd "$(dirname "$0")/../test/fixtures/issuers" && pwd)
X1_SHA256=96:BC:EC:06:26:49:76:F3:74:60:77:9A:CF:28:C5:A7:CF:E8:A3:C0:AA:E1:1A:8F:FC:EE:05:C0:BD:DF:08:C6
X2_SHA256=69:72:9B:8E:15:A8:6E:FC:17:7A:57:AF:B7:17:1D:FC:64:AD:D2:8C:2F:CA:8C:F1:50:7E:34:45:3C:CB:14:70

fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'; }
[ "$(fingerprint "$dir/isrg-root-x1.pem")" = "$X1_SHA256" ] || { echo "isrg-root-x1.pem is not ISRG Root X1" >&2; exit 1; }
[ "$(fingerprint "$dir/isrg-root-x2.pem")" = "$X2_SHA256" ] || { echo "isrg-root-x2.pem is not ISRG Root X2" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat "$dir/isrg-root-x1.pem" "$dir/isrg-root-x2.pem" > "$tmp/roots.pem"
cat "$dir"/root-*.pem > "$tmp/cross.pem"

for f in "$dir"/*.pem; do
  base=$(basename "$f" .pem)
  case "$base" in isrg-root-*|root-*) continue ;; esac
  openssl verify -no_check_time -no-CApath -no-CAstore -CAfile "$tmp/roots.pem" -untrusted "$tmp/cross.pem" "$f" >/dev/null 2>"$tmp/err" \
    || { echo "$base.pem does not verify to an ISRG root:" >&2; cat "$tmp/err" >&2; exit 1; }
  spki=$(openssl x509 -in "$f" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
  # RFC 2253 order (CN first) with ", " separators: the rendering src/tlsa/certificate.ts produces.
  subject=$(openssl x509 -in "$f" -noout -subject -nameopt RFC2253 | sed 's/^subject=//; s/\([^\\]\),/\1, /g')
  org=$(printf '%s' "$subject" | sed -n 's/.*\(^\|, \)O=\([^,]*\).*/\2/p')
  case "$org" in
    "Let's Encrypt") ca=letsencrypt ;;
    *) echo "$base.pem: no family known for O=$org" >&2; exit 1 ;;
  esac
  name=$(printf '%s' "$subject" | sed -n 's/^CN=\([^,]*\),.*/\1/p')
  text=$(openssl x509 -in "$f" -noout -text)
  case "$text" in
    *rsaEncryption*) alg=rsa ;;
    *prime256v1*) alg=ec-p256 ;;
    *secp384r1*) alg=ec-p384 ;;
    *) echo "$base.pem: unsupported key algorithm" >&2; exit 1 ;;
  esac
  # The root an intermediate is issued by names its generation (X1/X2: 2024, Root YR/YE: 2025):
  # the CA issues from one generation at a time, so the served issuer's generation comes first.
  generation=$(openssl x509 -in "$f" -noout -issuer -nameopt RFC2253 | sed -n 's/^issuer=CN=\([^,]*\),.*/\1/p')
  [ -n "$generation" ] || { echo "$base.pem: issuer has no CN" >&2; exit 1; }
  not_after=$(date -u -d "$(openssl x509 -in "$f" -noout -enddate | sed 's/^notAfter=//')" +%Y-%m-%dT%H:%M:%SZ)
  subject_ts=$(printf '%s' "$subject" | sed "s/'/\\\\'/g")
  printf "  { ca: '%s', name: '%s', subject: '%s', keyAlgorithm: '%s', generation: '%s', spkiSha256: '%s', notAfter: '%s' },\n" \
    "$ca" "$name" "$subject_ts" "$alg" "$generation" "$spki" "$not_after"
done
