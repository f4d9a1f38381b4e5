#!/usr/bin/env bash
# Installs the Debian 12 packages dlock needs, idempotently: only missing packages are
# installed, and `apt-get update` runs only when an install is needed.
#   scripts/install-deps.sh          build + run (library, CLI, demo)
#   scripts/install-deps.sh --test   also what the test suite needs
set -euo pipefail

# help2man makes the man page dlock(1) at build time; file: `cpack -G DEB` (dpkg-shlibdeps)
# finds the packages' ELF files with it.
build_pkgs=(build-essential cmake pkg-config libcli11-dev libfmt-dev libspdlog-dev
  nlohmann-json3-dev libhiredis-dev libasio-dev libssl-dev prometheus-cpp-dev
  libzookeeper-mt-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  golang-etcd-server-dev libpq-dev help2man file)
# clang: the build that checks the locking annotations (-Wthread-safety). Real servers
# for the integration tests, openssl to make their TLS certificates, and
# prometheus for promtool, which checks the metrics the CLI serves; ZooKeeper (it brings a
# JRE) and kazoo, etcd and etcdctl: third-party clients whose locks and ours must exclude
# each other. faketime: the fault suite jumps the clients' wall clocks; iproute2 and
# nftables: it cuts a client off from the store (a network namespace, a veth pair, drops).
# postgresql-15: the server the PostgreSQL guard's tests start (initdb and postgres, run
# directly, as the system user dlock-test when the tests run as root: both refuse root).
# systemd: systemd-analyze verify checks the example units (offline: no systemd as PID 1).
# man-db, bash-completion and zsh: the CLI's man page is rendered and its completions are
# run by real bash and zsh (help2man, in build_pkgs, writes the man page at build time).
# python3-matplotlib: bench/report.py draws the charts of BENCHMARKS.md (tests/bench).
test_pkgs=(libgtest-dev libgmock-dev python3 clang clang-format procps redis-server redis-tools
  openssl prometheus zookeeper python3-kazoo etcd-server etcd-client faketime iproute2
  nftables postgresql-15 systemd man-db bash-completion zsh python3-matplotlib)
test_user=dlock-test

pkgs=("${build_pkgs[@]}")
with_tests=false
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=("${test_pkgs[@]}")
  with_tests=true
fi

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then SUDO="sudo"; fi

# The unprivileged user that test servers which refuse root run as when the tests run as
# root (no home, no login). Tests run by another user run those servers as themselves.
add_test_user() {
  if $with_tests && [[ "$(id -u)" -eq 0 ]] && ! getent passwd "$test_user" >/dev/null; then
    echo "install-deps: adding the system user $test_user" >&2
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      "$test_user"
  fi
}

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  add_test_user
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
add_test_user
