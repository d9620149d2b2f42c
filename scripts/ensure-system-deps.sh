#!/usr/bin/env bash
# Installs the Debian packages the lab and its tests need, when they are missing. Idempotent:
# does nothing (but say so) when every program is present. Called by .ci/run and by `npm test`
# (pretest). Needs root to install; as non-root it only reports, and the lab tests then skip
# with a stated reason.
#
#   program   package        why
#   ip        iproute2       network namespaces, veth pairs, addresses, routes (ip -batch)
#   nft       nftables       the dataplane: nft -f (atomic), nft -j list ruleset (counters)
#   ping      iputils-ping   ICMP probes (Node has no ICMP sockets)
#   socat     socat          SCTP listeners and probes (Node has no SCTP sockets)
#   modprobe  kmod           loading the sctp module where the kernel has it as a module
#   etcd      etcd-server    the etcd v3 datastore the store and server tests run against
#   conntrack conntrack      per-flow accounting; removing conntrack entries of flows that became denied
#   ulogd     ulogd2         reads the kernel's nflog (rule ids of deciding rules) in each node namespace
#   (json)    ulogd2-json    ulogd2's JSON output plugin (checked by its plugin file)
#   chromium  chromium       the browser the console's end-to-end tests drive (playwright-core)
#
# Set STRATA_SKIP_SYSTEM_DEPS=1 to skip entirely.
set -euo pipefail

if [[ "${STRATA_SKIP_SYSTEM_DEPS:-}" == "1" ]]; then
  echo "ensure-system-deps: skipped (STRATA_SKIP_SYSTEM_DEPS=1)"
  exit 0
fi

if [[ "$(uname -s)" != "Linux" ]]; then
  echo "ensure-system-deps: not Linux; the lab is unavailable here, nothing to install"
  exit 0
fi

declare -A PACKAGE_OF=(
  [ip]=iproute2
  [nft]=nftables
  [ping]=iputils-ping
  [socat]=socat
  [modprobe]=kmod
  [etcd]=etcd-server
  [conntrack]=conntrack
  [ulogd]=ulogd2
  [chromium]=chromium
)

has() {
  command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" || -x "/sbin/$1" ]]
}

missing=()
for prog in ip nft ping socat modprobe etcd conntrack ulogd chromium; do
  if ! has "$prog"; then
    missing+=("${PACKAGE_OF[$prog]}")
  fi
done
if [[ ! -e /usr/lib/x86_64-linux-gnu/ulogd/ulogd_output_JSON.so ]] && ! compgen -G '/usr/lib/*/ulogd/ulogd_output_JSON.so' >/dev/null; then
  missing+=(ulogd2-json)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "ensure-system-deps: ip, nft, ping, socat, modprobe, etcd, conntrack, ulogd (json), chromium present; nothing to install"
  exit 0
fi

if [[ "$(id -u)" != "0" ]]; then
  echo "ensure-system-deps: missing ${missing[*]}; not root, so not installing (lab tests will skip)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-system-deps: missing ${missing[*]} and no apt-get; install them by hand" >&2
  exit 1
fi

echo "ensure-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The package lists may be absent or stale on a fresh machine: refresh once, then install.
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "ensure-system-deps: installed ${missing[*]}"
