#!/usr/bin/env bash
# Installs, on Debian, every system package the test suite talks to and that is missing: real PostgreSQL,
# Chromium, restic, pgBackRest, HAProxy, sshd, network namespaces, bind and PowerDNS. Tests of a part
# that is absent are skipped, and the run says so at its end; this script is what makes them run.
#   scripts/install-test-deps.sh          install what is missing (as root, or through sudo)
#   scripts/install-test-deps.sh --check  only print what is missing, one package a line
set -euo pipefail

# package, then what proves it installed: a command on the PATH or a file (a glob)
PACKAGES=(
  'postgresql /usr/lib/postgresql/*/bin/initdb'
  'chromium chromium'
  'util-linux runuser /usr/sbin/runuser /sbin/runuser'
  'restic restic'
  'pgbackrest pgbackrest'
  'haproxy haproxy /usr/sbin/haproxy'
  'openssh-server /usr/sbin/sshd'
  'openssh-client ssh'
  'iproute2 /usr/sbin/ip /sbin/ip /usr/bin/ip /bin/ip'
  'procps pgrep'
  'bind9 /usr/sbin/named'
  'bind9-utils named-checkconf'
  'bind9-dnsutils dig'
  'pdns-server /usr/sbin/pdns_server'
  'pdns-backend-sqlite3 /usr/lib/*/pdns/libgsqlite3backend.so /usr/lib/pdns/libgsqlite3backend.so'
)

present() {
  local probe
  for probe in "$@"; do
    if [[ $probe == /* ]]; then
      compgen -G "$probe" >/dev/null && return 0
    else
      command -v "$probe" >/dev/null && return 0
    fi
  done
  return 1
}

missing=()
for entry in "${PACKAGES[@]}"; do
  read -r -a fields <<<"$entry"
  present "${fields[@]:1}" || missing+=("${fields[0]}")
done

if [ "${1:-}" = --check ]; then
  [ ${#missing[@]} -eq 0 ] || printf '%s\n' "${missing[@]}"
  exit 0
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies: all installed"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "test dependencies: not a Debian system; install these yourself, or their tests are skipped: ${missing[*]}" >&2
  exit 0
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
echo "test dependencies: installing ${missing[*]}"
# the tests start their own clusters and daemons on free ports: no default PostgreSQL cluster, and no
# service started by the packages (bind and PowerDNS would both want port 53)
as_root mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' | as_root tee /etc/postgresql-common/createcluster.d/drctl.conf >/dev/null
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
  as_root chmod +x "$policy"
  trap 'as_root rm -f "$policy"' EXIT
fi
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
