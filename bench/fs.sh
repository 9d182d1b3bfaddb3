#!/usr/bin/env bash
# Overlay filesystem benchmark: the same merged tree, side by side in one run, on
#   kernel           kernel overlayfs (mount -t overlay)
#   fuse-overlayfs   fuse-overlayfs (the Debian package)
#   clusterfs-dir    clusterfs over the same two lower directories
#   clusterfs-store  clusterfs over the same tree imported into a cimg store
#                    as a two-layer image (cimg pull oci:...)
# The tree: a fixed random sample (seed 42) of the regular files of /usr, up to
# SIZE_MB, split file by file into two lowers (so directories are merged), plus
# one BIG_MB file in the bottom lower: by default real machine code (the ELF
# binaries and libraries of /usr outside the sample, bench/elf_blob.py), or with
# BIG=synthetic generated data (~2.5x with zstd -1, every 64 KiB block unique
# but its text drawn from one 60 KB corpus: redundancy across chunks, which
# whole-file zstd exploits and chunk-by-chunk compression cannot).
# Each timing is the median of RUNS runs; one table at the end.
set -euo pipefail
export LC_ALL=C

usage() {
  cat <<'EOF'
Usage: bench/fs.sh [--help]        (as root; install the tools with scripts/setup.sh)

Benchmarks kernel overlayfs, fuse-overlayfs and clusterfs (directory lowers and
store lowers) on the same tree and prints one table: fresh mount time, warm and
cold sequential read of one big file, reading every file (tar), metadata walk
(find -ls) cold and warm, copy-up of many small files, and the `zstd -d`
throughput of the big file as a reference. "cold" = fresh mount (so FUSE
daemons start with empty caches) + sync + drop_caches; "warm" = after one
untimed run on the same mount. Before timing, each mount's merged view is
checked against the source (names, types, modes, sizes, CRC of every file).

Environment:
  RUNS=3           runs per measurement (median reported)
  SIZE_MB=200      size of the /usr sample
  BIG_MB=1024      size of the big file (MiB)
  BIG=elf          the big file: elf (ELF files of /usr, concatenated) or synthetic
  COPYUP_N=2000    lower files appended to (one byte each) in the copy-up test
  ONLY=kernel,fuse-overlayfs,clusterfs-dir,clusterfs-store   subset to run
  ROWS=big-warm,tar-warm,find-warm,big-cold,tar-cold,find-cold,copyup
                   measurements to take (default: all), e.g. ROWS=big-cold
  CLUSTERFS=build/tools/clusterfs   CIMG=build/tools/cimg
  BENCH_TMP=/var/tmp  where the work dir goes (needs ~3 GB, not overlayfs)
  STEP_TIMEOUT=900 seconds before a hung step (e.g. a stuck FUSE daemon) fails
  KERNEL_OPTS=     extra mount options for kernel overlayfs (e.g. metacopy=on)
Exit status: 0, or 1 on an error or when a merged view differs from the source.
EOF
}
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-200}
BIG_MB=${BIG_MB:-1024}
BIG=${BIG:-elf}
COPYUP_N=${COPYUP_N:-2000}
CLUSTERFS=${CLUSTERFS:-$REPO/build/tools/clusterfs}
CIMG=${CIMG:-$REPO/build/tools/cimg}
BENCH_TMP=${BENCH_TMP:-/var/tmp}
STEP_TIMEOUT=${STEP_TIMEOUT:-900}
KERNEL_OPTS=${KERNEL_OPTS:-}
ALL=(kernel fuse-overlayfs clusterfs-dir clusterfs-store)
IMAGE=bench:fs
START=$SECONDS

log() { printf '[%4ds] %s\n' $((SECONDS - START)) "$*" >&2; }
die() { echo "fs.sh: $*" >&2; exit 1; }

for v in RUNS SIZE_MB BIG_MB COPYUP_N STEP_TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
SEL=()
IFS=',' read -r -a want <<< "${ONLY:-$(IFS=,; echo "${ALL[*]}")}"
for i in "${want[@]}"; do
  case " ${ALL[*]} " in *" $i "*) SEL+=("$i") ;; *) die "ONLY: unknown '$i' (choose from ${ALL[*]})" ;; esac
done
[ ${#SEL[@]} -gt 0 ] || die "ONLY selects nothing"
case "$BIG" in elf|synthetic) ;; *) die "BIG must be elf or synthetic (got '$BIG')" ;; esac
sel() { case " ${SEL[*]} " in *" $1 "*) return 0 ;; esac; return 1; }
ALL_ROWS=(big-warm tar-warm find-warm big-cold tar-cold find-cold copyup)
IFS=',' read -r -a ROWS_SEL <<< "${ROWS:-$(IFS=,; echo "${ALL_ROWS[*]}")}"
for i in "${ROWS_SEL[@]}"; do
  case " ${ALL_ROWS[*]} " in *" $i "*) ;; *) die "ROWS: unknown '$i' (choose from ${ALL_ROWS[*]})" ;; esac
done
[ ${#ROWS_SEL[@]} -gt 0 ] || die "ROWS selects nothing"
row_sel() { case " ${ROWS_SEL[*]} " in *" $1 "*) return 0 ;; esac; return 1; }

# --- checks -------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "must run as root (mount, drop_caches)"
need=(python3 tar zstd bc cksum find xargs dd awk sort timeout mount umount sync)
sel fuse-overlayfs && need+=(fuse-overlayfs)
{ sel fuse-overlayfs || sel clusterfs-dir || sel clusterfs-store; } && need+=(fusermount3)
for t in "${need[@]}"; do
  command -v "$t" >/dev/null || die "need '$t' (install everything with scripts/setup.sh)"
done
if sel kernel; then
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
    die "kernel overlayfs not available (modprobe overlay failed)"
fi
if sel fuse-overlayfs || sel clusterfs-dir || sel clusterfs-store; then
  [ -c /dev/fuse ] || die "/dev/fuse missing (modprobe fuse)"
fi
if sel clusterfs-dir || sel clusterfs-store; then
  [ -x "$CLUSTERFS" ] || die "clusterfs not built ($CLUSTERFS): run scripts/setup.sh, or ONLY=kernel,fuse-overlayfs"
fi
if sel clusterfs-store; then
  [ -x "$CIMG" ] || die "cimg not built ($CIMG): run scripts/setup.sh"
fi
mkdir -p "$BENCH_TMP"
W=$(mktemp -d "$BENCH_TMP/clusterfs-fs-bench.XXXXXX")
case "$W" in *[[:space:]]*) rmdir "$W"; die "BENCH_TMP must not contain spaces" ;; esac
if sel clusterfs-dir || sel clusterfs-store; then
  # one binary for the whole run, even if it is rebuilt meanwhile
  cp "$CLUSTERFS" "$W/clusterfs" && CLUSTERFS=$W/clusterfs
fi

# --- mounts and cleanup ---------------------------------------------------------
MOUNTED=()
is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
fstype() { awk -v m="$1" '$5 == m { for (i = 7; $i != "-"; i++); print $(i + 1) }' /proc/self/mountinfo | tail -1; }
daemon_alive() {  # a process (FUSE daemon) still has the mount point as an argument
  local f
  for f in /proc/[0-9]*/cmdline; do
    grep -qzxF -- "$1" "$f" 2>/dev/null && return 0
  done
  return 1
}
unmount() {  # unmount $1 whatever it is; last resort: abort the FUSE connection, lazy unmount
  local m=$1 i t dev
  for i in $(seq 20); do
    is_mounted "$m" || break
    t=$(fstype "$m")
    case "$t" in
      fuse.clusterfs) "$CLUSTERFS" umount "$m" 2>/dev/null || fusermount3 -u "$m" 2>/dev/null || true ;;
      fuse*) fusermount3 -u "$m" 2>/dev/null || true ;;
      *) umount "$m" 2>/dev/null || true ;;
    esac
    is_mounted "$m" && sleep 0.25
  done
  if is_mounted "$m"; then
    echo "fs.sh: $m busy: aborting FUSE connection / lazy unmount" >&2
    dev=$(awk -v m="$m" '$5 == m { split($3, a, ":"); print a[2] }' /proc/self/mountinfo | tail -1)
    [ -n "$dev" ] && [ -w "/sys/fs/fuse/connections/$dev/abort" ] && echo 1 > "/sys/fs/fuse/connections/$dev/abort"
    umount -l "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
  fi
  for i in $(seq 100); do   # let the FUSE daemon exit so it does not compete with the next step
    daemon_alive "$m" || break
    sleep 0.1
  done
}
cleanup() {
  local rc=$? i
  set +e
  trap - EXIT INT TERM
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do unmount "${MOUNTED[$i]}"; done
  if grep -qF " $W/" /proc/self/mountinfo; then
    echo "fs.sh: WARNING: mounts left under $W, not removing it" >&2
  else
    rm -rf "$W"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
elapsed() { echo "$2 - $1" | bc -l; }  # elapsed START END (EPOCHREALTIME values)

# --- the tree -------------------------------------------------------------------
log "sampling ${SIZE_MB} MB of /usr (seed 42)"
python3 "$REPO/bench/usr_sample.py" "$SIZE_MB" > "$W/list"
# copy-up candidates: small files, in sample order (spread over both lowers and many dirs)
tr '\n' '\0' < "$W/list" | xargs -0 stat -c '%s %n' |
  awk -v n="$COPYUP_N" '$1 <= 65536 && c < n { sub(/^[0-9]+ \//, ""); print; c++ }' > "$W/copyup.list"
FILES=$(wc -l < "$W/list")
COPYUP_N=$(wc -l < "$W/copyup.list")
# File i goes to lower (i mod 2) + 1: both lowers hold most directories, so the
# mount has to merge them.
awk 'NR % 2 == 1' "$W/list" > "$W/list1"
awk 'NR % 2 == 0' "$W/list" > "$W/list2"
for n in 1 2; do
  mkdir -p "$W/lower$n"
  tar -cf - -P -T "$W/list$n" 2>/dev/null | tar -xf - -C "$W/lower$n" 2>/dev/null
done
TREE_BYTES=$(cat "$W/list" | tr '\n' '\0' | xargs -0 stat -c %s | awk '{ s += $1 } END { print s }')

mkdir -p "$W/lower1/big"
BIG_REL=big/blob.bin
if [ "$BIG" = elf ]; then
  log "concatenating ${BIG_MB} MiB of ELF files from /usr (outside the sample) into the big file"
  rc=0
  python3 "$REPO/bench/elf_blob.py" "$W/lower1/$BIG_REL" "$BIG_MB" "$W/list" > /dev/null || rc=$?
  case $rc in
    0) ;;
    3) # a small /usr (a fresh machine): measure with what there is
       got=$(( $(stat -c %s "$W/lower1/$BIG_REL") >> 20 ))
       [ "$got" -ge 64 ] || die "/usr holds only ${got} MiB of distinct ELF files: use BIG=synthetic"
       log "NOTE: /usr holds only ${got} MiB of distinct ELF files: the big file is ${got} MiB" ;;
    *) die "bench/elf_blob.py failed" ;;
  esac
else
log "generating the ${BIG_MB} MiB file"
python3 - "$W/lower1/$BIG_REL" "$BIG_MB" <<'PY'
# 64 KiB blocks: 30% random bytes, then text lines (a unique block/line number
# and a slice of a small pseudo-word corpus). zstd -1 gives ~2.5x; the random
# bytes make every block (and so every chunk) unique.
import random, sys
out, mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
syl = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "qu", "ex", "in", "on", "st", "tr", "pl", "gr", "ch"]
vocab = ["".join(rnd.choice(syl) for _ in range(rnd.randint(1, 4))) for _ in range(4096)]
corpus = " ".join(rnd.choice(vocab) for _ in range(10000)).encode()
B = 1 << 16
nrand = int(B * 0.3)
with open(out, "wb") as f:
    for blk in range((mb << 20) // B):
        parts, n, i = [rnd.randbytes(nrand)], nrand, 0
        while n < B:
            o = rnd.getrandbits(24) % (len(corpus) - 300)
            line = b"%08x.%04x %s\n" % (blk, i, corpus[o:o + 200 + (o & 63)])
            parts.append(line); n += len(line); i += 1
        f.write(b"".join(parts)[:B])
PY
fi
BIG_BYTES=$(stat -c %s "$W/lower1/$BIG_REL")

# The expected merged view: names, types, modes, sizes and CRCs of both lowers.
manifest() {  # manifest DIR: one line per entry, sorted
  ( cd "$1" &&
    find . -mindepth 1 \( -type d -printf '%p %y %m\n' \) -o -printf '%p %y %m %s\n' &&
    find . -type f -print0 | sort -z | xargs -0 -r cksum ) | sort
}
log "computing the expected merged view"
sort -u <(manifest "$W/lower1") <(manifest "$W/lower2") > "$W/expected"

# --- zstd -d reference ------------------------------------------------------------
log "zstd -1 of the big file (reference)"
zstd -1 -T0 -q -f "$W/lower1/$BIG_REL" -o "$W/big.zst"
ZST_BYTES=$(stat -c %s "$W/big.zst")
zstd -d -q -c "$W/big.zst" > /dev/null
ts=()
for i in $(seq "$RUNS"); do
  log "zstd -d -T1 of the big file ($i/$RUNS)"
  s=$EPOCHREALTIME; zstd -d -T1 -q -c "$W/big.zst" > /dev/null; e=$EPOCHREALTIME
  ts+=("$(elapsed "$s" "$e")")
done
T_ZSTD=$(printf '%s\n' "${ts[@]}" | median)
# The same with the compressed file not in the page cache (as a cold store
# read starts: its packs on disk).
ts=()
for i in $(seq "$RUNS"); do
  log "zstd -d -T1 of the big file, cold ($i/$RUNS)"
  sync; echo 3 > /proc/sys/vm/drop_caches
  s=$EPOCHREALTIME; zstd -d -T1 -q -c "$W/big.zst" > /dev/null; e=$EPOCHREALTIME
  ts+=("$(elapsed "$s" "$e")")
done
T_ZSTD_COLD=$(printf '%s\n' "${ts[@]}" | median)
rm -f "$W/big.zst"

# --- the store image ----------------------------------------------------------------
# An OCI layout (bench/ingest.sh's mklayout, for several layers) whose layers are
# the two lowers as plain tars, bottom first, imported with cimg pull.
mklayout() {  # mklayout DIR TREE...  (layers bottom first)
  local out=$1 t n=0; shift
  for t in "$@"; do
    n=$((n + 1)); tar -C "$t" --sort=name -cf "$W/layer$n.tar" .
  done
  python3 - "$out" "$W"/layer*.tar <<'PY'
import hashlib, json, os, sys
out, tars = sys.argv[1], sys.argv[2:]
os.makedirs(out + "/blobs/sha256", exist_ok=True)
def put(b):
    d = hashlib.sha256(b).hexdigest(); open(f"{out}/blobs/sha256/{d}", "wb").write(b); return d
layers = []
for tar in tars:
    h = hashlib.sha256()
    with open(tar, "rb") as f:
        for blk in iter(lambda: f.read(1 << 20), b""): h.update(blk)
    ld = h.hexdigest(); size = os.path.getsize(tar)
    os.rename(tar, f"{out}/blobs/sha256/{ld}")
    layers.append((ld, size))
cfg = json.dumps({"architecture": "amd64", "os": "linux",
  "rootfs": {"type": "layers", "diff_ids": ["sha256:" + d for d, _ in layers]}}).encode()
cd = put(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd, "size": len(cfg)},
  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + d, "size": s}
             for d, s in layers]}).encode()
md = put(man)
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
  "digest": "sha256:" + md, "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "t"}}]},
  open(out + "/index.json", "w"))
PY
}
T_IMPORT="" STORED_MB="" CHUNKS=""
if sel clusterfs-store; then
  log "building the two-layer OCI image"
  mklayout "$W/oci" "$W/lower1" "$W/lower2"
  log "cimg pull into the store"
  s=$EPOCHREALTIME
  timeout --foreground -k 10 "$STEP_TIMEOUT" "$CIMG" --root "$W/store" -q pull "oci:$W/oci:t" --as "$IMAGE" > /dev/null ||
    die "cimg pull failed"
  e=$EPOCHREALTIME
  T_IMPORT=$(elapsed "$s" "$e")
  STORED_MB=$(echo "scale=1; $(du -sb "$W/store" | cut -f1) / 1000000" | bc -l)
  CHUNKS=$("$CIMG" --root "$W/store" inspect "$IMAGE" |
    python3 -c "import json,sys; c=json.load(sys.stdin)[0]['Chunks']; print(c['Total'], 'chunks,', c['New'], 'distinct')")
  rm -rf "$W/oci"
fi

# --- the implementations --------------------------------------------------------------
LOWERS="$W/lower2:$W/lower1"   # top first
mnt() { echo "$W/$1/mnt"; }
mount_cmd() {  # the command mounting IMPL on its mnt with its upper and work dirs
  local d=$W/$1
  case "$1" in
    kernel) echo "mount -t overlay overlay -o lowerdir=$LOWERS,upperdir=$d/upper,workdir=$d/work${KERNEL_OPTS:+,$KERNEL_OPTS} $d/mnt" ;;
    fuse-overlayfs) echo "fuse-overlayfs -o lowerdir=$LOWERS,upperdir=$d/upper,workdir=$d/work $d/mnt" ;;
    clusterfs-dir) echo "$CLUSTERFS mount -o lowerdir=$LOWERS,upperdir=$d/upper,workdir=$d/work none $d/mnt" ;;
    clusterfs-store) echo "$CLUSTERFS mount --root $W/store --upper $d/upper --work $d/work $IMAGE $d/mnt" ;;
  esac
}
declare -A MOUNT_TIMES=() RES=()
fresh_mount() {  # fresh_mount IMPL: unmount, empty upper and work dirs, mount again
  local impl=$1 d=$W/$1 m s e cmd
  m=$(mnt "$impl")
  unmount "$m"
  rm -rf "$d/upper" "$d/work"
  mkdir -p "$d/upper" "$d/work" "$m"
  sync
  cmd=$(mount_cmd "$impl")
  case " ${MOUNTED[*]-} " in *" $m "*) ;; *) MOUNTED+=("$m") ;; esac
  s=$EPOCHREALTIME
  timeout --foreground -k 10 "$STEP_TIMEOUT" $cmd > "$W/mount.out" 2>&1 || die "$impl: mount failed: $cmd: $(tail -3 "$W/mount.out")"
  e=$EPOCHREALTIME
  is_mounted "$m" || die "$impl: '$cmd' returned but $m is not mounted"
  MOUNT_TIMES[$impl]+="$(elapsed "$s" "$e") "
}
run_step() {  # run_step IMPL WHAT CMD: run CMD (bash) under the step timeout, die on failure
  timeout --foreground -k 10 "$STEP_TIMEOUT" bash -o pipefail -c "$3" > /dev/null 2> "$W/step.err" ||
    die "$1: $2 failed (status $?): $3: $(tail -3 "$W/step.err")"
}
measure() {  # measure ROW IMPL MODE CMD; MODE: warm (same mount, after one untimed run),
             # cold (fresh mount + drop_caches), fresh (fresh mount, caches as they are)
  local row=$1 impl=$2 mode=$3 cmd=$4 i s e ts=()
  row_sel "$row" || return 0
  if [ "$mode" = warm ]; then
    log "$impl: $row (warm-up)"
    run_step "$impl" "$row" "$cmd"
  fi
  for i in $(seq "$RUNS"); do
    log "$impl: $row ($i/$RUNS)"
    case "$mode" in cold|fresh) fresh_mount "$impl" ;; esac
    if [ "$mode" = cold ]; then drop_caches; else sync; fi
    s=$EPOCHREALTIME
    run_step "$impl" "$row" "$cmd"
    e=$EPOCHREALTIME
    ts+=("$(elapsed "$s" "$e")")
  done
  RES[$row|$impl]=$(printf '%s\n' "${ts[@]}" | median)
}

FAILED=0
for impl in "${SEL[@]}"; do
  m=$(mnt "$impl")
  q=$(printf %q "$m")
  log "$impl: mount and check the merged view"
  fresh_mount "$impl"
  timeout --foreground -k 10 "$STEP_TIMEOUT" bash -c "$(declare -f manifest); manifest $q" > "$W/got.$impl" ||
    die "$impl: listing the merged view failed"
  if cmp -s "$W/expected" "$W/got.$impl"; then
    RES[verify|$impl]=ok
  else
    RES[verify|$impl]=DIFF; FAILED=1
    echo "fs.sh: $impl: merged view differs from the source (< expected, > $impl):" >&2
    diff "$W/expected" "$W/got.$impl" | head -20 >&2 || true
  fi
  BIG_CMD="dd if=$q/$BIG_REL of=/dev/null bs=1M status=none"
  # GNU tar does not read file data when the archive is /dev/null (even as stdout): pipe it.
  TAR_CMD="tar -C $q -cf - usr | cat > /dev/null"
  FIND_CMD="find $q -ls > /dev/null"
  COPYUP_CMD="while IFS= read -r f; do printf x >> $q/\"\$f\"; done < $(printf %q "$W/copyup.list")"
  measure big-warm "$impl" warm "$BIG_CMD"
  measure tar-warm "$impl" warm "$TAR_CMD"
  measure find-warm "$impl" warm "$FIND_CMD"
  measure big-cold "$impl" cold "$BIG_CMD"
  measure tar-cold "$impl" cold "$TAR_CMD"
  measure find-cold "$impl" cold "$FIND_CMD"
  measure copyup "$impl" fresh "$COPYUP_CMD"
  if row_sel copyup; then
    f=$(head -1 "$W/copyup.list")
    src=$W/lower1/$f; [ -f "$src" ] || src=$W/lower2/$f
    [ "$(stat -c %s "$m/$f")" = $(( $(stat -c %s "$src") + 1 )) ] || die "$impl: copy-up did not append to $f"
    [ -f "$W/$impl/upper/$f" ] || die "$impl: copy-up: $f is not in the upper dir"
  fi
  RES[mount|$impl]=$(printf '%s\n' ${MOUNT_TIMES[$impl]} | median)
  unmount "$m"
done

# --- the table -------------------------------------------------------------------------
has() { [ -n "${RES[$1|$2]+x}" ]; }
mbps() { echo "scale=0; $1 / $2 / 1000000" | bc -l; }     # mbps BYTES SECONDS
ratio() { echo "scale=2; $1 / $2" | bc -l | sed 's/^\./0./'; }
cell() {  # cell ROW IMPL KIND
  local t
  has "$1" "$2" || { echo "-"; return; }
  t=${RES[$1|$2]}
  case "$3" in
    text) echo "$t" ;;
    big) printf '%.2f s, %s MB/s' "$t" "$(mbps "$BIG_BYTES" "$t")" ;;
    tree) printf '%.2f s, %s MB/s' "$t" "$(mbps "$TREE_BYTES" "$t")" ;;
    files) printf '%.2f s, %s files/s' "$t" "$(echo "scale=0; $COPYUP_N / $t" | bc -l)" ;;
    secs) printf '%.3f s' "$t" ;;
  esac
}
row() {  # row LABEL ROW KIND
  local impl line
  line=$(printf '| %-46s |' "$1")
  for impl in "${ALL[@]}"; do line+=$(printf ' %-22s |' "$(cell "$2" "$impl" "$3")"); done
  echo "$line"
}
mb() { echo "scale=1; $1 / 1000000" | bc -l; }
echo
echo "overlay benchmark: $FILES files from /usr ($(mb "$TREE_BYTES") MB) in 2 lowers + one $(mb "$BIG_BYTES") MB file (BIG=$BIG);"
echo "kernel $(uname -r), $(nproc) cores, median of $RUNS runs; MB = 10^6 bytes"
[ -n "$T_IMPORT" ] && echo "store: cimg pull of the 2-layer image $(printf '%.2f' "$T_IMPORT") s, store $STORED_MB MB, $CHUNKS"
echo
printf '| %-46s | %-22s | %-22s | %-22s | %-22s |\n' measurement "${ALL[@]}"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..48})" "$(printf -- '-%.0s' {1..24})" \
  "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..24})"
row "merged view = source (names, modes, data)" verify text
row "mount (fresh, empty upper)" mount secs
row "big file read, warm (dd bs=1M)" big-warm big
row "big file read, cold" big-cold big
row "read every file, warm (tar | cat)" tar-warm tree
row "read every file, cold" tar-cold tree
row "metadata walk, warm (find -ls)" find-warm secs
row "metadata walk, cold" find-cold secs
row "copy-up: append 1 byte to $COPYUP_N lower files" copyup files
printf '| %-46s | %-22s | %-22s | %-22s | %-22s |\n' "reference: zstd -d -T1 of the big file (warm)" \
  "$(printf '%.2f s, %s MB/s' "$T_ZSTD" "$(mbps "$BIG_BYTES" "$T_ZSTD")")" "" "" ""
printf '| %-46s | %-22s | %-22s | %-22s | %-22s |\n' "reference: the same, .zst file cold" \
  "$(printf '%.2f s, %s MB/s' "$T_ZSTD_COLD" "$(mbps "$BIG_BYTES" "$T_ZSTD_COLD")")" "" "" ""
echo
echo "big file: zstd -1 ratio $(ratio "$BIG_BYTES" "$ZST_BYTES")x"
for c in clusterfs-dir clusterfs-store; do
  if has big-warm kernel && has big-warm $c; then
    echo "$c warm read / kernel warm read: $(ratio "${RES[big-warm|kernel]}" "${RES[big-warm|$c]}")"
  fi
done
for c in clusterfs-dir clusterfs-store; do
  for k in cold warm; do
    if has find-$k fuse-overlayfs && has find-$k $c; then
      echo "fuse-overlayfs find / $c find, $k: $(ratio "${RES[find-$k|fuse-overlayfs]}" "${RES[find-$k|$c]}") (time ratio, > 1: $c faster)"
    fi
  done
done
if has big-cold fuse-overlayfs && has big-cold clusterfs-dir; then
  echo "clusterfs-dir cold read / fuse-overlayfs cold read: $(ratio "${RES[big-cold|fuse-overlayfs]}" "${RES[big-cold|clusterfs-dir]}") (target >= 1)"
fi
if has big-cold clusterfs-store; then
  echo "clusterfs-store cold read / zstd -d (warm .zst): $(ratio "$T_ZSTD" "${RES[big-cold|clusterfs-store]}") (target >= 0.8)"
  echo "clusterfs-store cold read / zstd -d (cold .zst): $(ratio "$T_ZSTD_COLD" "${RES[big-cold|clusterfs-store]}") (target >= 0.8)"
fi
[ "$FAILED" = 0 ] || { echo "fs.sh: a merged view differed from the source (see above)" >&2; exit 1; }
