#!/usr/bin/env bash
# npm run package: the release tarball tlsa-manager-<version>.tar.gz, the way WHM plugins are
# distributed. It holds the compiled app (dist/, no source maps), views/, public/, plugin/,
# install.sh, uninstall.sh, package.json, package-lock.json, README.md, the production
# node_modules only (copied from this checkout, so no network is needed; better-sqlite3 keeps its
# sources for a rebuild on the server but drops its build leftovers) and release.json (version,
# the Node.js ABI and the glibc/libstdc++ symbol versions the native module was built against).
# install.sh run from the unpacked tarball needs neither npm nor a compiler.
#
#   scripts/package.sh [--out DIR]     (default: the repository)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$REPO"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || { echo "package: --out needs a directory" >&2; exit 2; }; OUT="$2"; shift 2 ;;
    *) echo "package: unknown option \"$1\" (usage: scripts/package.sh [--out DIR])" >&2; exit 2 ;;
  esac
done
OUT="$(cd "$OUT" && pwd)"

VERSION="$(node -p "require('$REPO/package.json').version")"
NAME="tlsa-manager-$VERSION"
WORK="$(mktemp -d)"
trap 'rm -rf -- "$WORK"' EXIT
STAGE="$WORK/$NAME"
mkdir -p -- "$STAGE"

# The app, compiled fresh from src/ (never a stale dist/), failing on any type error.
"$REPO/node_modules/.bin/tsc" -p "$REPO/tsconfig.json" --outDir "$STAGE/dist" --sourceMap false
for item in views public plugin install.sh uninstall.sh package.json package-lock.json README.md LICENSE; do
  if [ -e "$REPO/$item" ]; then cp -R -- "$REPO/$item" "$STAGE/$item"; fi
done

# Production dependencies exactly as installed here (npm's own view of the tree without dev).
[ -d "$REPO/node_modules" ] || { echo "package: $REPO/node_modules is missing; run npm ci first" >&2; exit 1; }
(cd "$REPO" && npm ls --omit=dev --all --parseable) | while IFS= read -r dir; do
  rel="${dir#"$REPO"/}"
  case "$rel" in node_modules/*) ;; *) continue ;; esac
  [ -e "$STAGE/$rel" ] && continue
  mkdir -p -- "$STAGE/$(dirname -- "$rel")"
  cp -R -- "$dir" "$STAGE/$rel"
done
SQLITE="$STAGE/node_modules/better-sqlite3"
NATIVE="$SQLITE/build/Release/better_sqlite3.node"
[ -f "$NATIVE" ] || { echo "package: $NATIVE is missing; run npm ci first" >&2; exit 1; }
# Keep the loadable module (and the sources a rebuild needs); drop objects and test builds.
find "$SQLITE/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf -- {} +
find "$SQLITE/build/Release" -mindepth 1 -maxdepth 1 ! -name better_sqlite3.node -exec rm -rf -- {} +

# What the native module needs from the system, measured (objdump -T), for install.sh and people.
glibc="unknown"
glibcxx="unknown"
if command -v objdump >/dev/null; then
  syms="$(objdump -T "$NATIVE")"
  glibc="$(grep -o 'GLIBC_[0-9][0-9.]*' <<<"$syms" | sort -u -V | tail -n 1 || true)"
  glibcxx="$(grep -o 'GLIBCXX_[0-9][0-9.]*' <<<"$syms" | sort -u -V | tail -n 1 || true)"
fi
built_on="$(. /etc/os-release 2>/dev/null && printf '%s' "${PRETTY_NAME:-unknown}" || printf unknown)"
node -e '
  const [name, version, glibc, glibcxx, builtOn] = process.argv.slice(1);
  const info = { name, version, node: process.versions.node, nodeAbi: process.versions.modules, platform: process.platform, arch: process.arch,
    nativeModule: { file: "node_modules/better-sqlite3/build/Release/better_sqlite3.node", needs: [glibc, glibcxx] }, builtOn, builtAt: new Date().toISOString() };
  process.stdout.write(JSON.stringify(info, null, 2) + "\n");
' tlsa-manager "$VERSION" "$glibc" "$glibcxx" "$built_on" >"$STAGE/release.json"

chmod -R u+rwX,go+rX,go-w -- "$STAGE"
tar -C "$WORK" --sort=name --owner=0 --group=0 --numeric-owner -czf "$OUT/$NAME.tar.gz.tmp" "$NAME"
mv -f -- "$OUT/$NAME.tar.gz.tmp" "$OUT/$NAME.tar.gz"
echo "$OUT/$NAME.tar.gz ($(du -k "$OUT/$NAME.tar.gz" | cut -f1) kB): Node.js ABI $(node -p process.versions.modules), native module needs $glibc and $glibcxx"
