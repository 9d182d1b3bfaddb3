#!/bin/bash
# Removes everything deploy left of the cluster on this host.
# Usage: remove_cluster.sh DIR
exec rm -rf -- "$1"
