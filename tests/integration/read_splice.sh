#!/usr/bin/env bash
# Reads of directory-lower and upper files are spliced (file -> pipe ->
# /dev/fuse, no copy through the daemon) at full request size: the mount's
# max_read is a few pages short of what one of the daemon's pipes can hold
# (fs/read_request_size.h), so libfuse never falls back to copying a READ
# reply through a buffer. Checked on libfuse's own log of every reply (-d):
# every READ reply of two pages or more of a cold read is "(splice)", the requests
# are large (>= 128 KiB, the largest one the mount's max_read), and the
# bytes read are the source's. Store-lower reads (decompressed chunks, not
# an fd) are checked to come back exact through the same mount options.
source "$(dirname "$0")/lib.sh"
it_setup dd cmp tar
cfs_setup

L=$T/lower U=$T/upper W=$T/work M=$T/mnt
mkdir -p "$L/d" "$U" "$W" "$M"
rand_file "$L/d/big.bin" $((8 * 1024 * 1024 + 4321))
rand_file "$T/upper-src.bin" $((3 * 1024 * 1024 + 17))

log "mounting a directory lower with libfuse's request log (-d)"
bg "$CLUSTERFS" mount -d -o "lowerdir=$L,upperdir=$U,workdir=$W" none "$M" 2>"$T/debug.log"
it_track_mount "$M"
for _ in $(seq 600); do   # a deadline against a hang, not a speed bound
  is_mounted "$M" && break
  kill -0 "$BG_PID" 2>/dev/null || fail "clusterfs mount -d exited: $(tail -5 "$T/debug.log")"
  sleep 0.1
done
is_mounted "$M" || fail "clusterfs mount -d: $M not mounted after 60 s"
stat "$M" >/dev/null   # INIT answered

opts=$(awk -v m="$M" '$5 == m { print $NF }' /proc/self/mountinfo)
max_read=$(sed -n 's/.*max_read=\([0-9]*\).*/\1/p' <<<"$opts")
[[ -n "$max_read" ]] || fail "the mount has no max_read option: $opts"
(( max_read >= 131072 && max_read <= 1048576 && max_read % 4096 == 0 )) ||
  fail "max_read=$max_read: expected whole pages between 128 KiB and 1 MiB"

log "a file written through the mount (upper), then both files read cold"
cp "$T/upper-src.bin" "$M/d/up.bin"
drop_caches
start=$(wc -l <"$T/debug.log")
dd if="$M/d/big.bin" of="$T/big.out" bs=1M status=none
dd if="$M/d/up.bin" of="$T/up.out" bs=1M status=none
cmp "$L/d/big.bin" "$T/big.out" || fail "directory-lower file read back differs"
cmp "$T/upper-src.bin" "$T/up.out" || fail "upper file read back differs"

kill -0 "$BG_PID" || fail "the daemon died"
"$CLUSTERFS" umount "$M" || fail "clusterfs umount failed"
# A foreground daemon ended by an unmount is a clean stop: status 0.
rc=0
wait "$BG_PID" || rc=$?
[[ "$rc" == 0 ]] || fail "clusterfs mount -d exited $rc after clusterfs umount: $(tail -3 "$T/debug.log")"

# The replies to the READs of the cold reads: "unique: N, success, outsize: BYTES[ (splice)]".
tail -n +"$((start + 1))" "$T/debug.log" >"$T/reads.log"
awk '/opcode: READ \(15\)/ { sub(",", "", $2); r[$2] = 1 }
     /success, outsize:/ { u = $2; sub(",", "", u); if (u in r) print $5, $6 }' "$T/reads.log" >"$T/replies"
n=$(wc -l <"$T/replies")
(( n >= 11 )) || fail "only $n READ replies logged for 11 MiB read cold (libfuse's -d log: $T/reads.log)"
# (libfuse copies replies of less than two pages on purpose: file tails.)
copied=$(awk '$1 - 16 >= 8192 && $2 != "(splice)"' "$T/replies" | wc -l)
[[ "$copied" == 0 ]] || fail "$copied of $n READ replies were copied, not spliced: $(awk '$1 - 16 >= 8192 && $2 != "(splice)"' "$T/replies" | sed -n 1,3p | tr '\n' ' ')"
largest=$(awk '{ if ($1 > m) m = $1 } END { print m - 16 }' "$T/replies")
[[ "$largest" == "$max_read" ]] || fail "largest READ reply $largest bytes, expected max_read=$max_read"
log "$n READ replies, all spliced, the largest $largest bytes"

log "store-lower reads through the same options come back exact"
tar -C "$L" -cf "$T/layer.tar" d
oci_build "$T/oci" t "$T/layer.tar" >/dev/null
ci pull "oci:$T/oci:t" --as splice:v1 >/dev/null
M2=$T/mnt2
mkdir -p "$M2"
cfs_mount splice:v1 "$M2"
drop_caches
cmp "$L/d/big.bin" "$M2/d/big.bin" || fail "store-lower file read back differs"
cfs_umount "$M2"
