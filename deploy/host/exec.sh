#!/bin/bash
# Runs an operator's COMMAND (cimg exec: shell text by design, as ssh runs
# it) in ROOTFS, or in / when the host does not hold it.
# Usage: exec.sh ROOTFS COMMAND
cd -- "$1" 2>/dev/null || cd / || exit
eval "$2"
