#!/bin/bash
# Undoes init.sh on every host.
set -e
echo "clean: cleaning $(hostname)"
