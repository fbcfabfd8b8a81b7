#!/bin/sh
# Install what building and testing CaskDB needs, from Debian's archive.
# As root this runs apt-get; otherwise it prints the command to run.
set -u

# Every Lua the binding is tested with.  LuaJIT is OpenResty's (luajit2,
# libluajit2-5.1-dev): it is the one libnginx-mod-http-lua links, and
# Debian's other LuaJIT (luajit, libluajit-5.1-dev) conflicts with it.
# lua-busted and its dependencies carry modules for 5.1 to 5.4.
PACKAGES="cmake make gcc clang clang-format libclang-rt-14-dev pkg-config valgrind \
lua5.4 liblua5.4-dev lua5.3 liblua5.3-dev lua5.2 liblua5.2-dev \
lua5.1 liblua5.1-0-dev luajit2 libluajit2-5.1-dev \
lua-busted luarocks python3 python3-msgpack \
nginx libnginx-mod-http-lua curl"

# `deps.sh bench` adds the peers of the benchmarks.
if [ "${1:-}" = bench ]; then
  PACKAGES="$PACKAGES liblmdb-dev libleveldb-dev librocksdb-dev libsqlite3-dev lua-sql-sqlite3"
fi

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

echo "caskdb: installing missing packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "caskdb: not root; run this first, then try again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || { echo "caskdb: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
  { echo "caskdb: apt-get install failed" >&2; exit 1; }
