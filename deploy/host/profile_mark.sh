#!/bin/bash
# Before a deploy records a bring-up profile (deploy/read_profile_record.h):
# sets the access time of every regular file under ROOTFS to the epoch, so
# that the first read of each afterwards stamps it (relatime and strictatime
# do; the kernel updates atime on read(2), mmap and exec alike).
# Exit 4 when reads do not update access times on ROOTFS's filesystem
# (noatime): then no profile can be recorded there.
# Usage: profile_mark.sh ROOTFS
set -e -o pipefail
cd -- "$1"
probe=$(mktemp ./.cimg-atime-probe.XXXXXX)
trap 'rm -f -- "$probe"' EXIT
echo x >"$probe"
touch -a -d @0 -- "$probe"
cat -- "$probe" >/dev/null
if [ "$(stat -c %X -- "$probe")" = 0 ]; then
  echo "reads do not update access times under $1 (mounted noatime?)" >&2
  exit 4
fi
rm -f -- "$probe"
find . -type f ! -name '.cimg-atime-probe.*' -exec touch -a -d @0 -- {} +
