#!/bin/bash
# Runs on every host from rootfs/scripts before the cluster comes up.
set -e
echo "init: preparing $(hostname)"
