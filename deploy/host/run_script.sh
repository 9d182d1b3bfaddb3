#!/bin/bash
# Runs the image's ROOTFS/scripts/SCRIPT with bash, in ROOTFS/scripts, with
# ARGS; does nothing when the image has no such script.
# Usage: run_script.sh ROOTFS SCRIPT [ARGS...]
[ -f "$1/scripts/$2" ] || exit 0
cd -- "$1/scripts" || exit
exec bash "$2" "${@:3}"
