#!/usr/bin/env bash
# What a user who installs dlock does, checked (scripts/test.sh runs it; docs/install.md):
#   1. `cmake --install` of the static build into a prefix: examples/consumer builds with
#      find_package(dlock) and with pkg-config (make), and runs; every component is found
#      and links; `pkg-config dlock-redis` gives a working link line; a version 1.0 is
#      refused; and a build without etcd reports COMPONENTS etcd missing.
#   2. examples/consumer with dlock's source tree by FetchContent (no CLI, no tests).
#   3. A shared build (-DBUILD_SHARED_LIBS=ON): SONAMEs, and exports limited to the API.
#   4. The Debian packages of the shared and of the static build (cpack -G DEB), each
#      installed with apt-get: `dlock --version`, `man dlock`, bash completion, and the
#      consumer built against /usr and run; every pkg-config module their .pc files
#      require belongs to libdlock-dev's Depends; then `apt-get purge` leaves none of
#      their files behind.
#   scripts/check-install.sh [STATIC_BUILD_DIR [MINIMAL_BUILD_DIR]]
# (defaults build/test and build/minimal, as scripts/test.sh builds them). Installing
# packages needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
static=$(realpath "${1:-build/test}")
minimal=$(realpath "${2:-build/minimal}")
shared=$PWD/build/shared
jobs=$(nproc)
tmp=$(mktemp -d)
as_root=()
if [[ "$(id -u)" -ne 0 ]]; then as_root=(sudo); fi
installed=()
cleanup() {
  if ((${#installed[@]})); then
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${installed[@]}" \
      >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "check-install: $*" >&2
  exit 1
}

# consumer_runs BUILD_DIR: the consumer takes and releases its lock on file://.
consumer_runs() {
  local out
  out=$("$1/consumer" "file://$tmp/locks") || fail "$1/consumer failed: $out"
  grep -q "held consumer-example with fencing token" <<<"$out" || fail "consumer said: $out"
}
# consumer_by_cmake DIR [CMAKE-ARGS...]: examples/consumer, copied out of the source tree
# to DIR-src as a user's project would be, configured and built in DIR.
consumer_by_cmake() {
  local dir=$1
  shift
  cp -r examples/consumer "$dir-src"
  cmake -S "$dir-src" -B "$dir" "$@" >"$dir.log" 2>&1 || {
    cat "$dir.log"
    fail "examples/consumer did not configure ($*)"
  }
  cmake --build "$dir" -j"$jobs" >>"$dir.log" 2>&1 || {
    cat "$dir.log"
    fail "examples/consumer did not build ($*)"
  }
  consumer_runs "$dir"
}
# consumer_by_make DIR: examples/consumer's Makefile (pkg-config) run in a copy, DIR.
consumer_by_make() {
  cp -r examples/consumer "$1"
  make -s -C "$1" consumer >"$1.log" 2>&1 || {
    cat "$1.log"
    fail "examples/consumer's Makefile failed"
  }
  consumer_runs "$1"
}
# components DIR WANT [ARGS...]: tests/install/components asking for WANT.
components() {
  local dir=$1 want=$2
  shift 2
  cmake -S tests/install/components -B "$dir" "-DWANT=$want" "$@" >"$dir.log" 2>&1
}

echo "== install: cmake --install $static, and a consumer"
prefix=$tmp/prefix
cmake --install "$static" --prefix "$prefix" >/dev/null
[[ -f $prefix/include/dlock/locker.h && ! -e $prefix/include/core ]] ||
  fail "the prefix's headers are not include/dlock/ alone"
consumer_by_cmake "$tmp/by-cmake" -DCMAKE_PREFIX_PATH="$prefix"
PKG_CONFIG_PATH=$prefix/lib/pkgconfig consumer_by_make "$tmp/by-make"
all="redis;etcd;zookeeper;postgres;prometheus;open"
components "$tmp/all" "$all" -DCMAKE_PREFIX_PATH="$prefix" || {
  cat "$tmp/all.log"
  fail "find_package(dlock COMPONENTS $all) failed"
}
if ! cmake --build "$tmp/all" -j"$jobs" >/dev/null || ! "$tmp/all/components" >/dev/null; then
  fail "a program linking every component did not build or run"
fi
if components "$tmp/v1" "" -DCMAKE_PREFIX_PATH="$prefix" -DVERSION=1.0; then
  fail "find_package(dlock 1.0) accepted version 0.1"
fi
grep -q "version: 0.1" "$tmp/v1.log" || fail "find_package(dlock 1.0) failed, but not on the version"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046  # pkg-config's flags are several words
c++ -std=c++20 -DDLOCK_PROBE_REDIS $(pkg-config --cflags dlock-redis) tests/install/probe.cc \
  -o "$tmp/probe" $(pkg-config --libs dlock-redis) || fail "pkg-config dlock-redis: no link"
"$tmp/probe" | grep -q "probe: ok" || fail "the dlock-redis probe did not run"
unset PKG_CONFIG_PATH

echo "== install: a build without etcd ($minimal) has no etcd component"
cmake --install "$minimal" --prefix "$tmp/minimal" >/dev/null
[[ ! -e $tmp/minimal/include/dlock/backends/etcd.h ]] || fail "the etcd header was installed"
if components "$tmp/no-etcd" "etcd" -DCMAKE_PREFIX_PATH="$tmp/minimal"; then
  fail "find_package(dlock COMPONENTS etcd) succeeded on a build without etcd"
fi
grep -q "built without: etcd" "$tmp/no-etcd.log" || {
  cat "$tmp/no-etcd.log"
  fail "find_package(dlock COMPONENTS etcd) failed without saying etcd is missing"
}
components "$tmp/core-only" "" -DCMAKE_PREFIX_PATH="$tmp/minimal" || {
  cat "$tmp/core-only.log"
  fail "find_package(dlock) failed on the minimal build"
}

echo "== FetchContent: examples/consumer with dlock's source tree"
consumer_by_cmake "$tmp/fetch" -DDLOCK_SOURCE_TREE="$PWD" -DDLOCK_WITH_REDIS=OFF \
  -DDLOCK_WITH_ETCD=OFF -DDLOCK_WITH_ZOOKEEPER=OFF -DDLOCK_WITH_POSTGRES=OFF \
  -DDLOCK_WITH_PROMETHEUS=OFF
for d in cli tests; do
  [[ ! -e $tmp/fetch/_deps/dlock-build/$d ]] || fail "a subproject dlock built its $d"
done

echo "== shared build ($shared): SONAMEs, exports, components"
# Configured for /usr, as a package build is: Debian's multiarch libdir.
cmake -S . -B "$shared" -DBUILD_SHARED_LIBS=ON -DDLOCK_WERROR=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$shared" -j"$jobs" >/dev/null
mapfile -t libs < <(find "$shared/lib" -name 'libdlock*.so' | sort)
((${#libs[@]} >= 8)) || fail "the shared build made ${#libs[@]} libraries"
for lib in "${libs[@]}"; do
  soname=$(readelf -d "$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
  [[ $soname == "$(basename "$lib").0.1" ]] || fail "$lib has SONAME '$soname'"
done
python3 tests/install/check_exports.py include "${libs[@]}"
cmake --install "$shared" --prefix "$tmp/shared" >/dev/null
components "$tmp/shared-all" "$all" -DCMAKE_PREFIX_PATH="$tmp/shared" || {
  cat "$tmp/shared-all.log"
  fail "find_package(dlock COMPONENTS $all) failed on the shared install"
}
if ! cmake --build "$tmp/shared-all" -j"$jobs" >/dev/null ||
  ! LD_LIBRARY_PATH=$(dirname "$(find "$tmp/shared" -name libdlock_core.so | head -1)") \
    "$tmp/shared-all/components" >/dev/null; then
  fail "a program linking every shared component did not build or run"
fi

# deb_check KIND BUILD_DIR PACKAGE...: cpack's packages installed, used and removed.
deb_check() {
  local build_kind=$1 build=$2
  shift 2
  rm -f "$build"/*.deb
  (cd "$build" && cpack -G DEB >/dev/null)
  local debs=()
  for p in "$@"; do debs+=("$(ls "$build/${p}"_*.deb)"); done
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debs[@]}" \
    >/dev/null
  installed=("$@")
  dlock --version | grep -q "dlock 0.1" || fail "dlock --version after installing ${debs[*]}"
  [[ "$(command -v dlock)" == /usr/bin/dlock ]] || fail "dlock is not /usr/bin/dlock"
  man -w dlock >/dev/null || fail "man dlock finds no page"
  man dlock 2>/dev/null | grep -q "fence" || fail "man dlock does not show the fence subcommand"
  # `dlock <TAB>` in bash, with the installed completion as bash-completion loads it.
  local words
  words=$(bash -c 'source /usr/share/bash-completion/bash_completion
    source /usr/share/bash-completion/completions/dlock
    COMP_WORDS=(dlock ""); COMP_CWORD=1; COMP_LINE="dlock "; COMP_POINT=6
    _dlock dlock "" dlock; echo "${COMPREPLY[*]}"') || fail "the bash completion failed"
  for sub in run acquire extend release inspect fence bench; do
    grep -qw -- "$sub" <<<"$words" || fail "dlock <TAB> does not offer $sub: $words"
  done
  # Against the packages' files alone: not a prefix path or another install of the
  # caller's (/usr/local comes first in CMake's and pkg-config's search).
  local cmake_dir
  cmake_dir=$(dirname "$(dpkg -L libdlock-dev | grep '/dlockConfig.cmake$')")
  (
    unset CMAKE_PREFIX_PATH
    consumer_by_cmake "$tmp/deb-cmake-$build_kind" -Ddlock_DIR="$cmake_dir"
  ) || exit 1
  local pc_dir
  pc_dir=$(dirname "$(dpkg -L libdlock-dev | grep '/dlock.pc$')")
  PKG_CONFIG_PATH=$pc_dir consumer_by_make "$tmp/deb-make-$build_kind"
  # What each .pc requires is on a clean machine only if a package libdlock-dev depends on
  # brings it: every module's .pc must belong to libdlock-dev itself or to one of them.
  local depends
  depends=$(dpkg-query -W -f='${Depends}' libdlock-dev | sed 's/([^)]*)//g; s/,/ /g')
  local pc module owner
  for pc in "$pc_dir"/dlock*.pc; do
    for module in $(PKG_CONFIG_PATH=$pc_dir pkg-config --print-requires \
      --print-requires-private "$(basename "$pc" .pc)" | awk '{print $1}'); do
      owner=$(dpkg -S "$(PKG_CONFIG_PATH=$pc_dir pkg-config --path "$module")" | cut -d: -f1)
      [[ $owner == libdlock-dev || " $depends " == *" $owner "* ]] ||
        fail "$(basename "$pc") requires $module, of $owner, which libdlock-dev does not depend on"
    done
  done
  local files=()
  for p in "$@"; do
    while IFS= read -r f; do
      [[ -f $f || -L $f ]] && files+=("$f")
    done < <(dpkg -L "$p")
  done
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "$@" >/dev/null
  installed=()
  for f in "${files[@]}"; do
    [[ ! -e $f && ! -L $f ]] || fail "apt-get purge left $f"
  done
  for p in "$@"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "config-files\|installed"; then
      fail "$p is still known to dpkg after apt-get purge"
    fi
  done
  echo "   ${debs[*]##*/}: installed, used and purged (${#files[@]} files)"
}

echo "== Debian packages of the shared build"
deb_check shared "$shared" dlock libdlock0.1 libdlock-dev
echo "== Debian packages of the static build"
deb_check static "$static" dlock libdlock-dev
echo "check-install: ok"
