#!/bin/sh
# Installs what Blackhole needs on a Debian host with Node 20, as root, then
# installs the workspace and builds it. With --test it also installs what the
# test suite needs: Debian's Chromium for the Playwright tests, apparmor for
# apparmor_parser, bubblewrap for the launch benchmark, strace for the
# monitoring benchmark, and gcc for the escape probes.
#
#   scripts/install.sh          runtime only
#   scripts/install.sh --test   runtime and test tools
set -eu

cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.9
with_tests=0
for arg in "$@"; do
  case "$arg" in
    --test) with_tests=1 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$arg'; expected --test or nothing" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root: Blackhole creates namespaces and cgroups, and apt-get needs root" >&2
  exit 1
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "install.sh: Node 20 or later is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# iproute2 for veth networks, util-linux for nsenter, make/g++/python3 for the
# native addon and better-sqlite3, which are built from source.
packages="iproute2 util-linux make g++ python3"
if [ "$with_tests" -eq 1 ]; then
  packages="$packages chromium apparmor bubblewrap strace gcc bsdutils procps"
fi
missing=""
for pkg in $packages; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "install.sh: installing Debian packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  # pnpm 11 needs node:sqlite (Node 22) and corepack fails its signature
  # check here, so pin pnpm 10 through npm.
  npm install -g "pnpm@$PNPM_VERSION"
fi

pnpm install --frozen-lockfile
pnpm build
