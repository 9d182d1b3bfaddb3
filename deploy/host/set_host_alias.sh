#!/bin/bash
# Points DOMAIN at IP in /etc/hosts as sealer does (CommandSetHostAlias): a
# line "IP DOMAIN #hostalias-set-by-sealer" replaces any line naming DOMAIN.
# With --remove (no IP, DOMAIN), removes every line sealer or cimg set.
# Usage: set_host_alias.sh IP DOMAIN | set_host_alias.sh --remove
mark='#hostalias-set-by-sealer'
if [ "$1" = --remove ]; then
  [ -f /etc/hosts ] || exit 0
  kept=$(grep -vF -- "$mark" /etc/hosts)
  printf '%s\n' "$kept" >/etc/hosts
  exit
fi
if [ -f /etc/hosts ]; then
  kept=$(awk -v d="$2" '{ for (i = 2; i <= NF; i++) if ($i == d) next; print }' /etc/hosts)
  printf '%s\n' "$kept" >/etc/hosts
fi
printf '%s %s %s\n' "$1" "$2" "$mark" >>/etc/hosts
