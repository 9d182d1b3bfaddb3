#!/bin/bash
# Runs the SHELL plugin read from stdin with bash, in ROOTFS (or / when
# ROOTFS does not exist yet).
# Usage: run_plugin.sh ROOTFS
cd -- "$1" 2>/dev/null || cd /
exec bash -s
