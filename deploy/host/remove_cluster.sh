#!/bin/bash
# Removes everything deploy left of the cluster on this host, with the spool
# an interrupted fan-out kept in /dev/shm (fanout_setup.sh).
# Usage: remove_cluster.sh DIR
d=$1
if [ -L "$d/fanout/spool" ]; then
  spool=$(readlink -- "$d/fanout/spool") || spool=
  case $spool in /dev/shm/cimg-fanout.*) rm -rf -- "$spool" ;; esac
fi
exec rm -rf -- "$d"
