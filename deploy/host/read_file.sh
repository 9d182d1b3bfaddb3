#!/bin/bash
# Prints FILE (the host record, the saved join command); fails when it is
# missing.
# Usage: read_file.sh FILE
exec cat -- "$1"
