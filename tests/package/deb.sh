#!/usr/bin/env bash
# The .deb as a user gets it: installed on this machine with dpkg, the installed
# `certkey --version` and `certkey list` run against the installed softkey module
# (found by the catalog in the system's PKCS#11 folder; no slot until trial mode is
# on, then the trial key), then removed, leaving none of its files behind.
# Usage: tests/package/deb.sh PACKAGE.deb  (scripts/test builds it with scripts/package)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/deps.sh

deb=${1:?usage: tests/package/deb.sh PACKAGE.deb}
name=$(dpkg-deb -f "$deb" Package)
version=$(dpkg-deb -f "$deb" Version)
home=$(mktemp -d)
fail() { echo "package test: $*" >&2; exit 1; }
cleanup() {
    if dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed"; then
        as_root dpkg -r "$name" >/dev/null || true
    fi
    rm -rf "$home"
}
trap cleanup EXIT

if dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed"; then
    fail "$name is already installed here; remove it first (dpkg -r $name)"
fi
echo "--- the package holds"
files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|^\([^/]\)|/\1|')
grep -E 'bin/|pkcs11/|p11-kit/modules/|applications/|icons/.*128x128/' <<<"$files" || fail "nothing listed"
for f in /usr/bin/certkey-app /usr/bin/certkey /usr/bin/certkey-softkey \
    /usr/share/p11-kit/modules/certkey-softkey.module; do
    grep -qx "$f" <<<"$files" || fail "$f is not in the package"
done
grep -q 'pkcs11/libcertkey_softkey.so$' <<<"$files" || fail "no softkey module in the package"
grep -q '^/usr/share/applications/.*\.desktop$' <<<"$files" || fail "no desktop entry"

echo "--- dpkg -i $deb"
as_root dpkg -i "$deb" >/dev/null
# The installed programs, in a clean environment: a new user's home, no CertKey
# variables, nothing from the build tree on the path.
run() {
    env -i HOME="$home" PATH=/usr/bin:/bin LANG=C.UTF-8 "$@"
}
out=$(run certkey --version)
echo "$out"
[ "$out" = "certkey ${version%%-*}" ] || [[ "$out" == "certkey ${version%%-*}"* ]] || fail "certkey --version says: $out"

module=$(dpkg -L "$name" | grep '/pkcs11/libcertkey_softkey.so$' | head -1)
[ -f "$module" ] || fail "the softkey module is not installed"
# (Exit code 3 when another module of this machine has a problem: not ours to judge.)
listed=$(run certkey --json list || true)
echo "$listed" | python3 -c '
import json, sys
m = sys.argv[1]
r = json.load(sys.stdin)
mods = [x for x in r["modules"] if x["path"] == m]
assert mods and mods[0]["loaded"], ("softkey not loaded", r["modules"], r["errors"])
assert not [t for t in r["tokens"] if t["module"] == m], ("a key without trial mode", r["tokens"])
' "$module" || fail "certkey list before trial mode: $listed"
echo "--- trial mode off: softkey loaded, no key"

run certkey-softkey trial on
out=$(run certkey list || true)
echo "$out"
serial=$(run certkey-softkey status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["slots"][0]["serial"])')
grep -q "$serial" <<<"$out" || fail "certkey list does not show the trial key $serial"
said=$(run env LC_ALL=zh_CN.UTF-8 certkey-softkey trial)
echo "$said"
grep -q "试用模式已开启" <<<"$said" || fail "certkey-softkey trial, in Chinese, says: $said"
run certkey-softkey trial off
(run certkey list || true) | grep -q "$serial" && fail "the trial key is still listed after trial off"
said=$(run certkey-softkey trial)
echo "$said"
grep -q "^Trial mode is off" <<<"$said" || fail "certkey-softkey trial says: $said"

echo "--- dpkg -r $name"
as_root dpkg -r "$name" >/dev/null
for f in /usr/bin/certkey-app /usr/bin/certkey /usr/bin/certkey-softkey "$module" \
    /usr/share/p11-kit/modules/certkey-softkey.module; do
    [ ! -e "$f" ] || fail "$f is left after removal"
done
left=$(dpkg -L "$name" 2>/dev/null || true)
[ -z "$left" ] || fail "dpkg still lists files of $name"
echo "package test: installed, used and removed $name $version"
