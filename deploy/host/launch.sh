#!/bin/bash
# LAUNCH APP: runs ROOTFS/application/apps/APP/*.sh with bash and applies its
# *.yaml and *.yml with kubectl, in name order.
# Usage: launch.sh ROOTFS APP
cd -- "$1" || exit
d=application/apps/$2
[ -d "$d" ] || { echo "LAUNCH $2: $d is not in the image" >&2; exit 2; }
while IFS= read -r -d '' f; do
  case $f in
    *.sh) bash "$f" ;;
    *.yaml | *.yml) kubectl apply -f "$f" ;;
  esac || exit
done < <(find "$d" -maxdepth 1 -type f -print0 | sort -z)
