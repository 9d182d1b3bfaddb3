#!/usr/bin/env bash
# Content-defined chunking dedups across images: B1 (A + one layer) and B2
# (the same files re-packed as one layer) must store little beyond A.
source "$(dirname "$0")/lib.sh"
it_setup umoci skopeo du

IMG=$T/img
log "building A (~30 MB)"
umoci_start "$IMG" a "$T/ba"
R=$T/ba/rootfs
mkdir -p "$R/bin" "$R/data/x/y" "$R/etc" "$R/docs"
python3 - "$R" <<'PY'
import os, random, sys
root = sys.argv[1]
r = random.Random()
words = [''.join(r.choice('abcdefghijklmnop') for _ in range(r.randint(2, 8))) for _ in range(3000)]
total = 0
dirs = ['bin', 'data', 'data/x', 'data/x/y', 'etc', 'docs']
i = 0
while total < 30 * 1024 * 1024:
    i += 1
    kind = r.random()
    if kind < 0.05: size = r.randint(3, 8) * 1024 * 1024     # a few big ones
    elif kind < 0.5: size = r.randint(50_000, 600_000)
    else: size = r.randint(0, 20_000)                          # many small ones
    d = r.choice(dirs)
    p = os.path.join(root, d, 'f%03d' % i)
    if r.random() < 0.6:
        data = os.urandom(size)
    else:
        data = (' '.join(r.choice(words) for _ in range(size // 5 + 1)))[:size].encode()
    open(p, 'wb').write(data)
    total += size
print(i, 'files,', total, 'bytes', file=sys.stderr)
PY
echo "small config v1" >"$R/etc/app.conf"
umoci_commit "$IMG" a "$T/ba"

log "building B1 (A + a layer) and B2 (same files, one layer)"
umoci tag --image "$IMG:a" b1
umoci unpack --image "$IMG:b1" "$T/bb" >/dev/null
echo "small config v2, changed" >"$T/bb/rootfs/etc/app.conf"
rand_file "$T/bb/rootfs/data/new-1m.bin" $((1024 * 1024))
umoci_commit "$IMG" b1 "$T/bb"
assert_eq 2 "$(oci_diff_ids "$IMG" b1 | wc -l)" "B1 layer count"

umoci_start "$IMG" b2 "$T/b2"
cp -a "$T/bb/rootfs/." "$T/b2/rootfs/"
umoci_commit "$IMG" b2 "$T/b2"
assert_eq 1 "$(oci_diff_ids "$IMG" b2 | wc -l)" "B2 layer count"

packs() { du -sb "${1:-$ROOT}/packs" | cut -f1; }
counts() { # ROOT NAME -> "total new newbytes"
  cir "$1" inspect "$2" | json_get '"%d %d %d" % (j[0]["Chunks"]["Total"], j[0]["Chunks"]["New"], j[0]["Chunks"]["NewBytes"])'
}

# Root 1: A, then B1, then B2.
mkdir -p "$ROOT"
log "root 1: pull A"
ci pull "oci:$IMG:a" | sed 's/^/    /'
sizeA=$(packs)
log "root 1: pull B1"
out=$(ci pull "oci:$IMG:b1") || fail "pull B1"
sed 's/^/    /' <<<"$out"
grep -q '2 layers (1 already stored, 0 fetched by parts)' <<<"$out" || fail "B1 should reuse A's layer: $out"
sizeB1=$(packs)
log "root 1: pull B2"
ci pull "oci:$IMG:b2" | sed 's/^/    /'
sizeB2=$(packs)

read -r ta na _ < <(counts "$ROOT" img:a)
read -r t1 n1 _ < <(counts "$ROOT" img:b1)
read -r t2 n2 nb2 < <(counts "$ROOT" img:b2)
grow1=$((sizeB1 - sizeA))
grow2=$((sizeB2 - sizeB1))
echo "A : chunks total $ta new $na; packs $sizeA bytes"
echo "B1: chunks total $t1 new $n1; packs grew $grow1 bytes ($((grow1 * 100 / sizeA))% of A)"
echo "B2 after B1: chunks total $t2 new $n2 ($nb2 bytes); packs grew $grow2 bytes"

[[ $ta -gt 20 && $na -eq $ta ]] || fail "A: expected many chunks, all new (total $ta new $na)"
((n1 >= 1 && n1 * 10 < t1)) || fail "B1: $n1 of $t1 chunks new (want 1..10%)"
((grow1 * 100 < sizeA * 15)) || fail "packs grew $grow1 bytes for B1, >= 15% of A ($sizeA)"
((grow1 >= 1024 * 1024 - 4096)) || fail "B1 added 1 MiB of random data but packs grew only $grow1"
((n2 * 10 < t2)) || fail "B2 after B1: $n2 of $t2 chunks new (>= 10%)"
((grow2 * 100 < sizeA * 15)) || fail "packs grew $grow2 bytes for B2 after B1, >= 15% of A ($sizeA)"
assert_fsck_clean

# Root 2: A, then B2 directly (the re-packed single layer must dedup against A).
R2=$T/root2
log "root 2: pull A, then B2"
cir "$R2" pull "oci:$IMG:a" >/dev/null
sA2=$(packs "$R2")
cir "$R2" pull "oci:$IMG:b2" | sed 's/^/    /'
grow=$(($(packs "$R2") - sA2))
read -r total new newbytes < <(counts "$R2" img:b2)
echo "B2 after A: chunks total $total new $new ($newbytes bytes); packs grew $grow bytes ($((grow * 100 / sA2))% of A)"
[[ $total -gt 20 ]] || fail "B2: too few chunks ($total) to be meaningful"
((new >= 1)) || fail "B2 after A: the changed and new files must give new chunks, got $new"
((new * 10 < total)) || fail "B2 after A: $new of $total chunks new (>= 10%)"
((grow * 100 < sA2 * 15)) || fail "packs grew $grow bytes for B2 after A, >= 15% of A ($sA2)"
assert_fsck_clean "$R2"

assert_fsck_clean
# and B2 still reads back right
umoci unpack --image "$IMG:b2" "$T/ob2" >/dev/null
push_compare img:b2 "$T/ob2/rootfs"
