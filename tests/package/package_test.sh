#!/usr/bin/env bash
# The .deb as an operator gets it: built by cpack into a temporary directory,
# unpacked with `dpkg-deb -x` into a scratch root (no root needed), and
# looked at and run from there.
#
#   package_test.sh CPACK BUILD_DIR VERSION
#
# Exits 77 (skipped) without dpkg-deb.
set -euo pipefail

cpack=$1 build=$2 version=$3
tools=(sigserve sigbench sigprobe)

if ! command -v dpkg-deb >/dev/null; then
  echo "SKIP: dpkg-deb (Debian's dpkg) not found: the .deb cannot be unpacked here"
  exit 77
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -z "$server_pid" ] || kill -KILL "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# What this shell was given must not leak into sigserve's configuration.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^SIGSERVE_' || true)

# --- Build -------------------------------------------------------------------
started=$SECONDS
"$cpack" --config "$build/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack could not build the package"; }
shopt -s nullglob
debs=("$work"/out/*.deb)
[ ${#debs[@]} -eq 1 ] || fail "cpack made ${#debs[@]} .deb files, not one: ${debs[*]}"
deb=${debs[0]}
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes) in $((SECONDS - started)) s"

# --- Control fields ----------------------------------------------------------
field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package)" = sigkit ] || fail "Package is '$(field Package)', not sigkit"
[ "$(field Version)" = "$version-1" ] || fail "Version is '$(field Version)', not $version-1"
[ "$(field Section)" = net ] || fail "Section is '$(field Section)', not net"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
depends=$(field Depends)
echo "Depends: $depends"
for lib in libc6 libssl3 libstdc++6 libidn12; do
  [[ ", $depends," == *", $lib "* || ", $depends," == *", $lib,"* ]] || fail "Depends lacks $lib: $depends"
done

dpkg-deb --info "$deb" conffiles >"$work/conffiles" 2>/dev/null || fail "the package has no conffiles"
grep -qx /etc/sigserve/sigserve.toml "$work/conffiles" ||
  fail "/etc/sigserve/sigserve.toml is not a conffile (an upgrade would overwrite the operator's edits)"
dpkg-deb --control "$deb" "$work/control"
for script in postinst prerm postrm; do
  [ -x "$work/control/$script" ] || fail "maintainer script $script missing or not executable"
  sh -n "$work/control/$script" || fail "maintainer script $script is not valid sh"
done

# --- Contents ----------------------------------------------------------------
dpkg-deb --contents "$deb" >"$work/contents"
if grep -E '\.(h|hpp|a)$|/include/|/cmake/' "$work/contents"; then
  fail "the package carries the library's developer files (above)"
fi
if awk '$2 != "root/root"' "$work/contents" | grep .; then
  fail "files not owned by root/root (above)"
fi
dpkg-deb -x "$deb" "$work/root"
root=$work/root
for f in /lib/systemd/system/sigserve.service /etc/sigserve/sigserve.toml \
         /usr/share/doc/sigkit/copyright /usr/share/doc/sigkit/README.md; do
  [ -f "$root$f" ] || fail "$f is not in the package"
done
grep -q "MIT License" "$root/usr/share/doc/sigkit/copyright" || fail "copyright is not the MIT licence"

# --- The tools run from the scratch root (the system provides libssl) ------
for t in "${tools[@]}"; do
  [ -x "$root/usr/bin/$t" ] || fail "/usr/bin/$t is not in the package"
  out=$("$root/usr/bin/$t" --version) || fail "$t --version exited $?"
  [[ "$out" == "$t $version"* ]] || fail "$t --version printed '$out', not '$t $version ...'"
  echo "$out"
done

# --- Man pages ---------------------------------------------------------------
for t in "${tools[@]}"; do
  page=$root/usr/share/man/man1/$t.1.gz
  [ -f "$page" ] || fail "/usr/share/man/man1/$t.1.gz missing (was help2man found at configure time, and has the build run since?)"
  gzip -t "$page" || fail "$t.1.gz is not gzip"
  # help2man's NAME: ".SH NAME" then "tool \- summary".
  name=$(zcat "$page" | awk '/^\.SH NAME/ { getline; print; exit }')
  [[ "$name" == "$t \\- "?* ]] || fail "$t.1.gz has no NAME section naming $t (got '$name')"
  zcat "$page" | grep -qF '\-\-version' || fail "$t.1.gz does not list the options"
done

# --- The unit ----------------------------------------------------------------
unit=$root/lib/systemd/system/sigserve.service
grep -qx 'ExecStart=/usr/bin/sigserve --config /etc/sigserve/sigserve.toml' "$unit" ||
  fail "the unit does not run /usr/bin/sigserve --config /etc/sigserve/sigserve.toml"
if command -v systemd-analyze >/dev/null; then
  # verify wants ExecStart's binary on this machine: point a copy at the
  # scratch root. Only complaints about this unit count.
  mkdir "$work/unit"
  sed "s|/usr/bin/sigserve|$root/usr/bin/sigserve|" "$unit" >"$work/unit/sigserve.service"
  verdict=$(systemd-analyze verify --man=no "$work/unit/sigserve.service" 2>&1 | grep sigserve || true)
  [ -z "$verdict" ] || fail "systemd-analyze verify: $verdict"
  echo "systemd-analyze verify: no complaints"
else
  echo "systemd-analyze not found: the unit's syntax is not verified"
fi

# --- The config --------------------------------------------------------------
config=$root/etc/sigserve/sigserve.toml
"$root/usr/bin/sigserve" --help >"$work/help"
keys=$(sed -nE 's/^#? ?([a-z][a-z0-9-]*) = .*/\1/p' "$config" | sort -u)
[ -n "$keys" ] || fail "the example config names no option"
for k in $keys; do
  grep -q -- "--${k}[ =]" "$work/help" || fail "sigserve.toml names '$k', which is not a sigserve option"
done
# sigserve starts with the config as shipped (flags beat the file: a free
# loopback port) and stops cleanly on SIGTERM.
"$root/usr/bin/sigserve" --config "$config" --listen 127.0.0.1 --port 0 >"$work/sigserve.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
  grep -q "listening on" "$work/sigserve.log" && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q "listening on" "$work/sigserve.log" || { cat "$work/sigserve.log" >&2; fail "sigserve did not start with the shipped config"; }
kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=""
[ "$rc" -eq 0 ] || { cat "$work/sigserve.log" >&2; fail "sigserve exited $rc on SIGTERM"; }
echo "sigserve starts with the shipped config ($(echo "$keys" | wc -l) options named in it)"

echo "ok: $(grep -c . "$work/contents") entries, Installed-Size $(field Installed-Size) KiB"
