#!/bin/bash
# Points DOMAIN at IP in /etc/hosts as sealer does (CommandSetHostAlias): a
# line "IP DOMAIN #hostalias-set-by-sealer" replaces any line naming DOMAIN.
# With --remove (no IP, DOMAIN), removes every line sealer or cimg set.
# The new file is written beside the old one and renamed over it (copied over
# it where /etc/hosts is a bind mount), so a failure leaves the old one whole.
# Usage: set_host_alias.sh IP DOMAIN | set_host_alias.sh --remove
mark='#hostalias-set-by-sealer'
if [ "$1" = --remove ] && [ ! -f /etc/hosts ]; then exit 0; fi
tmp=$(mktemp /etc/.hosts.cimg.XXXXXX) || exit
trap 'rm -f -- "$tmp"' EXIT
if [ "$1" = --remove ]; then
  grep -vF -- "$mark" /etc/hosts >"$tmp"
  [ $? -le 1 ] || exit 1 # 1: no line left, which is fine
else
  if [ -f /etc/hosts ]; then
    awk -v d="$2" '{ for (i = 2; i <= NF; i++) if ($i == d) next; print }' /etc/hosts >"$tmp" || exit
  fi
  printf '%s %s %s\n' "$1" "$2" "$mark" >>"$tmp" || exit
fi
chmod 644 -- "$tmp" || exit
mv -f -- "$tmp" /etc/hosts 2>/dev/null || cat -- "$tmp" >/etc/hosts
