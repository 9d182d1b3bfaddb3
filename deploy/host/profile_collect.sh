#!/bin/bash
# After a deploy that recorded a bring-up profile: the regular files under
# ROOTFS read since profile_mark.sh (access time after the epoch), one
# record each, NUL-terminated: "ATIME<TAB>SIZE<TAB>PATH" (ATIME seconds since
# the epoch with nanoseconds, PATH relative to ROOTFS).
# Usage: profile_collect.sh ROOTFS
set -e -o pipefail
cd -- "$1"
ref=$(mktemp)
trap 'rm -f -- "$ref"' EXIT
touch -d @1 -- "$ref"
find . -type f -anewer "$ref" -printf '%A@\t%s\t%P\0'
