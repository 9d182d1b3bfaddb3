#!/bin/bash
# Prints the image's plugin files (ROOTFS/plugins/*.yaml, *.yml), each as
# "cimg-plugin-file SIZE NAME" and its bytes (deploy/image_plugins.h).
# Usage: read_plugins.sh ROOTFS
shopt -s nullglob
for f in "$1"/plugins/*.yaml "$1"/plugins/*.yml; do
  [ -f "$f" ] || continue
  printf 'cimg-plugin-file %s %s\n' "$(wc -c <"$f")" "${f##*/}"
  cat -- "$f"
done
exit 0
