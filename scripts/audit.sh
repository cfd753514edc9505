#!/usr/bin/env bash
# Supply-chain check of what users install (issue 9, "Security"):
#  1. packs every published workspace package, as `npm publish` would upload it;
#  2. installs @vigil/node from those tarballs into an empty project with --omit=dev
#     and reports its install size and package count (the largest packages too);
#  3. runs `npm audit --omit=dev --audit-level=high` on that project and on one with
#     every published package: fails when a runtime dependency has a high or
#     critical advisory.
# Needs the npm registry (installs and the audit endpoint). Leaves nothing behind.
#
#   bash scripts/audit.sh            (npm run build first is done here: tsc -b)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

tmp=$(mktemp -d)
# KEEP=1 leaves the projects for a look (npm explain <package> in $tmp/node)
if [ "${KEEP:-}" = 1 ]; then echo "projects kept in $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi
npmq() { npm --loglevel=error --no-fund --no-update-notifier "$@"; }

# the workspaces users install: every workspace package not marked private
published=()
for dir in packages/*; do
  [ "$(node -p "require('./$dir/package.json').private === true")" = true ] || published+=("$dir")
done

echo "== build and pack ${#published[@]} packages"
tsc -b
mkdir "$tmp/packs"
for dir in "${published[@]}"; do npmq pack --silent --pack-destination "$tmp/packs" -w "$dir" >/dev/null; done
ls "$tmp/packs"

# installs tarballs into a new project; the @vigil/* dependencies come from the tarballs, the rest from the registry
install_into() {
  local project=$1
  shift
  mkdir -p "$project"
  (cd "$project" && npmq init -y >/dev/null && npmq install --omit=dev --no-audit "$@" >/dev/null)
}

tarball() { ls "$tmp/packs"/vigil-"$1"-*.tgz; }
# @vigil/node and the @vigil packages it depends on (their versions are not on the registry)
node_deps=$(node -p "Object.keys(require('./packages/node/package.json').dependencies).filter(n => n.startsWith('@vigil/')).map(n => n.slice(7)).join(' ')")
node_tarballs=("$(tarball node)")
for d in $node_deps; do node_tarballs+=("$(tarball "$d")"); done

echo
echo "== install size of @vigil/node (npm install --omit=dev, Node $(node --version), npm $(npm --version))"
install_into "$tmp/node" "${node_tarballs[@]}"
packages=$(cd "$tmp/node" && npm ls --all --parseable --omit=dev 2>/dev/null | tail -n +2 | sort -u | wc -l)
size=$(du -sk "$tmp/node/node_modules" | cut -f1)
echo "node_modules: $((size / 1024)) MB ($size KiB) on disk, $packages packages"
echo "largest:"
# one du per package (du counts a directory once, so a scope folder would hide its packages)
(cd "$tmp/node/node_modules" && for p in [!@.]* @*/*; do du -sk -- "$p"; done | sort -rn | head -10 | awk '{ printf "  %6.1f MB  %s\n", $1 / 1024, $2 }')

status=0
audit() {
  local name=$1 project=$2
  echo
  echo "== npm audit --omit=dev --audit-level=high: $name"
  (cd "$project" && npmq audit --omit=dev --json >"$tmp/audit.json" 2>/dev/null) || true
  node -e '
    const a = require(process.argv[1]);
    // A registry (or proxy) without the audit endpoint answers 405 or 404: no verdict at all, which is a failure too.
    if (a.error || !a.metadata) { console.log(`npm audit got no answer from the registry: ${a.message ?? JSON.stringify(a.error)}`); process.exit(2); }
    const v = a.metadata.vulnerabilities;
    console.log(`advisories: critical ${v.critical}, high ${v.high}, moderate ${v.moderate}, low ${v.low}, info ${v.info} (${a.metadata.dependencies.prod ?? a.metadata.dependencies.total} dependencies)`);
    for (const [name, x] of Object.entries(a.vulnerabilities)) console.log(`  ${x.severity}: ${name} ${x.range} (${x.via.map((w) => typeof w === "string" ? w : w.title).join("; ")})`);
    process.exit(v.critical + v.high > 0 ? 1 : 0);
  ' "$tmp/audit.json" || { r=$?; [ $r -gt $status ] && status=$r; }
}
audit "@vigil/node" "$tmp/node"

install_into "$tmp/all" "$tmp"/packs/*.tgz
audit "every published package (${#published[@]})" "$tmp/all"

echo
case $status in
  0) echo "audit: no high or critical advisory in the runtime dependencies" ;;
  1) echo "audit: high or critical advisories above" ;;
  *) echo "audit: NOT RUN: the registry's audit endpoint did not answer (run where registry.npmjs.org's POST /-/npm/v1/security/advisories/bulk is reachable)" ;;
esac
exit $status
