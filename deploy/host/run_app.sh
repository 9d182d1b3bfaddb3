#!/bin/bash
# LAUNCH of an app a sealer image describes: exports the app's env, then runs
# COMMAND in ROOTFS, as sealer's `cd ROOTFS && COMMAND` on master0. COMMAND
# is planned by deploy (deploy/app_launch.h): the app's APPCMDS (shell text
# by design) or its type's default with every name quoted.
# Usage: run_app.sh ROOTFS COMMAND [NAME VALUE]...
cd -- "$1" || exit
cmd=$2
shift 2
while [ $# -ge 2 ]; do
  case $1 in
    '' | [0-9]* | *[!A-Za-z0-9_]*) echo "run_app.sh: bad env name: $1" >&2; exit 2 ;;
  esac
  export "$1=$2"
  shift 2
done
eval "$cmd"
