#!/usr/bin/env bash
# The .deb (CPack): it carries both binaries, a man page for every command
# and subcommand (with the examples of --help), bash and zsh completion, the
# mount(8) helper, the systemd units and the license; it installs with
# `dpkg -i` into a private copy of the system (a mount namespace whose /usr,
# /etc and /var are overlays: the real system is never touched); there, the
# installed clusterfs serves `mount -t fuse.clusterfs` and an fstab line, the
# units pass `systemd-analyze verify`, the bash and zsh completion complete
# subcommands, options and image names, and a user without root gets a store
# of their own (and a refusal that names --root for the system's).
source "$(dirname "$0")/lib.sh"
it_setup cpack dpkg dpkg-deb unshare help2man tar zsh systemd-analyze
cfs_setup
BUILD=${CFS_BUILD_DIR:?CFS_BUILD_DIR is not set}

log "cpack -G DEB"
mkdir -p "$T/pkg"
(cd "$T/pkg" && cpack -G DEB --config "$BUILD/CPackConfig.cmake" >"$T/cpack.log" 2>&1) ||
  fail "cpack failed: $(tail -n 5 "$T/cpack.log")"
DEB=$(find "$T/pkg" -maxdepth 1 -name 'clusterfs_*.deb' | sed -n 1p)
[[ -n $DEB ]] || fail "cpack wrote no clusterfs_*.deb: $(ls "$T/pkg")"
log "   $(basename "$DEB"): $(stat -c %s "$DEB") bytes"

dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's,^\./,/,' >"$T/contents"
has() { grep -qx -- "$1" "$T/contents" || fail "the package lacks $1"; }
for f in /usr/bin/cimg /usr/bin/clusterfs /usr/share/doc/clusterfs/copyright \
  /usr/share/bash-completion/completions/cimg /usr/share/bash-completion/completions/clusterfs \
  /usr/share/zsh/vendor-completions/_cimg /usr/lib/systemd/system/clusterfs@.service \
  /usr/lib/systemd/system/cimg-gc.service /usr/lib/systemd/system/cimg-gc.timer \
  /usr/sbin/mount.fuse.clusterfs; do
  has "$f"
done
# one page per command and per subcommand, read off --help
n=0
for cmd in cimg clusterfs; do
  bin=$CIMG
  [[ $cmd == clusterfs ]] && bin=$CLUSTERFS
  has "/usr/share/man/man1/$cmd.1.gz"
  while read -r sub; do
    has "/usr/share/man/man1/$cmd-$sub.1.gz"
    n=$((n + 1))
  done < <("$bin" --help | awk 'tolower($0) ~ /^subcommands:/ {on=1; next} on && /^[^ ]/ {on=0} on && NF {print $1}')
done
((n >= 20)) || fail "only $n subcommands found in the --help of cimg and clusterfs"
deps=$(dpkg-deb -f "$DEB" Depends)
for d in fuse3 libfuse3 librocksdb libzstd libssh2 libcurl; do
  [[ $deps == *"$d"* ]] || fail "Depends lacks $d: $deps"
done
log "   $n subcommand pages; Depends: $deps"

# every --help shows an example, and so every man page
mkdir -p "$T/x"
dpkg-deb -x "$DEB" "$T/x"
for page in "$T"/x/usr/share/man/man1/*.1.gz; do
  zcat "$page" >"$T/page"
  grep -Eiq '^\.S[HS] "?EXAMPLES?:?"?$' "$T/page" || fail "$(basename "$page") has no examples"
done
name=cimg-build.1.gz
zcat "$T/x/usr/share/man/man1/$name" >"$T/page"
grep -q 'cimg build \\-t' "$T/page" || fail "$name shows no 'cimg build -t' command line"

# `cimg completion bash` prints what the package installs
REPO=$(cd "$(dirname "$0")/../.." && pwd)
"$CIMG" completion bash >"$T/completion.bash"
cmp -s "$T/completion.bash" "$REPO/packaging/completion/cimg.bash" ||
  fail "cimg completion bash differs from packaging/completion/cimg.bash"
"$CIMG" completion zsh >"$T/completion.zsh"
zsh -n "$T/completion.zsh" || fail "cimg completion zsh is not valid zsh"
expect_one_line_error "completion" "$CIMG" completion fish

log "an image for the mounts"
mkdir -p "$T/src/etc" "$T/src/bin"
text_file "$T/src/etc/app.conf" 3000
printf '#!/bin/sh\necho hi\n' >"$T/src/bin/hi"
tar -C "$T/src" -cf "$T/layer.tar" .
oci_build "$T/oci" v1 "$T/layer.tar" >/dev/null
ci pull "oci:$T/oci:v1" --as pkgtest:v1 >/dev/null

# what the unprivileged user may read (T itself is 0700)
mkdir -p "$T/rootless/home"
cp -a "$T/oci" "$T/rootless/oci"
chown -R 65534:65534 "$T/rootless"
chmod o+x "$T"

log "dpkg -i in a private copy of the system, then mount(8) with the installed clusterfs"
mkdir -p "$T/m1" "$T/m2" "$T/ov"
# Everything below runs inside one mount namespace; its overlays and the
# mounts vanish with it (the script unmounts them first).
cat >"$T/inside.sh" <<'INSIDE'
set -euo pipefail
T=$1 DEB=$2 ROOT=$3
# a FUSE daemon left mounted here would keep this namespace alive
trap 'umount "$T/m1" 2>/dev/null || true; umount "$T/m2" 2>/dev/null || true' EXIT
for d in usr etc var; do
  mkdir -p "$T/ov/$d.upper" "$T/ov/$d.work"
  mount -t overlay "ov-$d" -o "lowerdir=/$d,upperdir=$T/ov/$d.upper,workdir=$T/ov/$d.work" "/$d"
done
# mount.fuse3 finds the daemon on /bin/sh's default PATH, /usr/local/bin
# first: hide a developer's copy there, so the packaged one is the one run
mount -t tmpfs tmpfs /usr/local/bin
dpkg -i "$DEB" >"$T/dpkg.log" 2>&1 || { echo "dpkg -i failed: $(tail -n 3 "$T/dpkg.log")"; exit 1; }
dpkg -s clusterfs | grep -q '^Status: install ok installed' || { echo "dpkg -s: not installed"; exit 1; }
[[ $(command -v cimg) == /usr/bin/cimg ]] || { echo "cimg is $(command -v cimg)"; exit 1; }
/usr/bin/cimg --version >"$T/version.txt"
cp -a /usr/lib/systemd/system/clusterfs@.service /usr/lib/systemd/system/cimg-gc.service \
  /usr/lib/systemd/system/cimg-gc.timer "$T/"
# the template, as the instance for /mnt/app would load it
mkdir -p "$T/units"
cp /usr/lib/systemd/system/clusterfs@.service "$T/units/clusterfs@mnt-app.service"
systemd-analyze verify /usr/lib/systemd/system/cimg-gc.timer /usr/lib/systemd/system/cimg-gc.service \
  "$T/units/clusterfs@mnt-app.service" >"$T/verify.log" 2>&1 ||
  { echo "systemd-analyze verify: $(cat "$T/verify.log")"; exit 1; }
# mount -t fuse.clusterfs, with options as in fstab
CIMG_ROOT=$ROOT timeout -k 5 60 mount -t fuse.clusterfs pkgtest:v1 "$T/m1" -o ro,root="$ROOT"
awk -v m="$T/m1" '$5 == m {for (i = 7; $i != "-"; i++); print $(i + 1)}' /proc/self/mountinfo >"$T/m1.type"
diff -r "$T/src" "$T/m1" >"$T/m1.diff" 2>&1 || { echo "mount -t: differs: $(head -n 3 "$T/m1.diff")"; exit 1; }
pid=$(pgrep -f -n "clusterfs.*$T/m1" || true)
[[ -n $pid ]] && readlink "/proc/$pid/exe" >"$T/m1.exe"
umount "$T/m1"
printf 'pkgtest:v1 %s fuse.clusterfs ro,root=%s,nosuid,nodev 0 0\n' "$T/m2" "$ROOT" >"$T/fstab"
timeout -k 5 60 mount -T "$T/fstab" "$T/m2"
diff -r "$T/src" "$T/m2" >"$T/m2.diff" 2>&1 || { echo "fstab mount: differs: $(head -n 3 "$T/m2.diff")"; exit 1; }
awk -v m="$T/m2" '$5 == m {for (i = 7; $i != "-"; i++); print $(i + 1)}' /proc/self/mountinfo >"$T/m2.type"
umount "$T/m2"
# without root: a store of one's own by default; the system store refused by name
NB=(setpriv --reuid=65534 --regid=65534 --clear-groups env -u CIMG_ROOT HOME="$T/rootless/home" XDG_DATA_HOME=)
"${NB[@]}" cimg -q pull "oci:$T/rootless/oci:v1" --as mine:1 >/dev/null
"${NB[@]}" cimg -q images --format '{{.Repository}}:{{.Tag}}' >"$T/rootless.images"
"${NB[@]}" cimg -q fsck >"$T/rootless.fsck"
[[ -d $T/rootless/home/.local/share/cimg/packs ]] || { echo "no store in ~/.local/share/cimg"; exit 1; }
if "${NB[@]}" cimg --root /var/lib/cimg-pkgtest-denied images 2>"$T/rootless.err"; then
  echo "a store under /var/lib opened without root"; exit 1
fi
# bash completion, as bash-completion would load it
# shellcheck disable=SC1091  # installed by the package, inside this namespace
source /usr/share/bash-completion/completions/cimg
COMP_WORDS=(cimg bu); COMP_CWORD=1; _cfs_complete; printf '%s\n' "${COMPREPLY[@]}" >"$T/comp.sub"
COMP_WORDS=(cimg build --ta); COMP_CWORD=2; _cfs_complete; printf '%s\n' "${COMPREPLY[@]}" >"$T/comp.opt"
COMP_WORDS=(cimg --root "$ROOT" inspect pkg); COMP_CWORD=4; _cfs_complete; printf '%s\n' "${COMPREPLY[@]}" >"$T/comp.img"
COMP_WORDS=(clusterfs mo); COMP_CWORD=1; _cfs_complete; printf '%s\n' "${COMPREPLY[@]}" >"$T/comp.cfs"
# zsh: the installed _cimg's definitions (its last line needs a live
# completion context), then its function as _bash_complete calls it
cat >"$T/zsh-comp.zsh" <<'ZSH'
autoload -Uz compinit && compinit -u -D
eval "$(sed '$d' /usr/share/zsh/vendor-completions/_cimg)"
COMP_WORDS=(cimg build --ta); COMP_CWORD=2; _cfs_complete_zsh; print -l -- $COMPREPLY
ZSH
HOME=$T zsh "$T/zsh-comp.zsh" >"$T/zsh.txt" 2>&1
for d in etc var usr; do umount -l "/$d" 2>/dev/null || true; done
INSIDE
unshare -m --propagation private bash "$T/inside.sh" "$T" "$DEB" "$ROOT" >"$T/inside.out" 2>&1 ||
  fail "in the private copy of the system: $(tail -n 5 "$T/inside.out")"
if dpkg -s clusterfs >/dev/null 2>&1; then
  log "   (clusterfs is installed on this machine too: not by this test)"
fi
log "   installed: $(sed -n 1p "$T/version.txt")"
assert_eq fuse.clusterfs "$(cat "$T/m1.type")" "type of the mount -t fuse.clusterfs mount"
assert_eq fuse.clusterfs "$(cat "$T/m2.type")" "type of the fstab mount"
[[ -s "$T/m1.exe" ]] || fail "no clusterfs daemon found serving $T/m1"
assert_eq /usr/bin/clusterfs "$(cat "$T/m1.exe")" "the daemon mount(8) started"
grep -qx build "$T/comp.sub" || fail "completion of 'cimg bu' lacks build: $(cat "$T/comp.sub")"
grep -qx -- --tag "$T/comp.opt" || fail "completion of 'cimg build --ta' lacks --tag: $(cat "$T/comp.opt")"
grep -qx pkgtest:v1 "$T/comp.img" || fail "completion of 'cimg inspect pkg' lacks pkgtest:v1: $(cat "$T/comp.img")"
grep -qx mount "$T/comp.cfs" || fail "completion of 'clusterfs mo' lacks mount: $(cat "$T/comp.cfs")"
grep -qx -- --tag "$T/zsh.txt" || fail "zsh completion of 'cimg build --ta' lacks --tag: $(cat "$T/zsh.txt")"
assert_eq mine:1 "$(cat "$T/rootless.images")" "images of nobody's own store"
grep -q clean "$T/rootless.fsck" || fail "fsck of nobody's store: $(cat "$T/rootless.fsck")"
grep -q -- '--root DIR' "$T/rootless.err" || fail "the refusal of /var/lib/... does not name --root: $(cat "$T/rootless.err")"
log "PASS"
