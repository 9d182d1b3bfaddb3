#!/bin/bash
# Runs COMMAND (a CMD of the image, or spec.cmd of the Clusterfile: shell
# text by design) in ROOTFS.
# Usage: run_command.sh ROOTFS COMMAND
cd -- "$1" || exit
eval "$2"
