# bash completion for cimg and clusterfs (zsh uses it too, through
# bashcompinit: hence no mapfile, and arrays read the same from 0 when zsh
# sets ksharrays).
# Subcommands and options come from the installed binaries' own --help (never
# out of date); image names from `cimg images`.

# _cfs_help_words CMD [SUB]: the subcommands (no SUB) or the options of
# CMD [SUB], read off its --help.
_cfs_help_words() {
  local cmd=$1 sub=${2:-}
  if [[ -z $sub ]]; then
    "$cmd" --help 2>/dev/null | awk 'tolower($0) ~ /^subcommands:/ {on=1; next}
      on && /^[^ ]/ {on=0} on && NF {print $1}'
  else
    "$cmd" "$sub" --help 2>/dev/null | grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z0-9-]*' |
      tr -d ' ,' | sort -u
  fi
}

# _cfs_images: the images of the store named by --root on the command line
# (else the default one), as NAME:TAG.
_cfs_images() {
  local i root=
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
    --root) root=${COMP_WORDS[i + 1]} ;;
    --root=*) root=${COMP_WORDS[i]#--root=} ;;
    esac
  done
  if [[ -n $root ]]; then
    cimg --root "$root" -q images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null
  else
    cimg -q images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null
  fi
}

# _cfs_sub: the first word after the command that is not an option (or the
# value of --root or --threads).
_cfs_sub() {
  local i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    case $w in
    --root | --threads) ((i++)) ;;
    -*) ;;
    *)
      printf '%s' "$w"
      return 0
      ;;
    esac
  done
}

_cfs_complete() {
  local IFS=$'\n' # each line of a $(...) below is one candidate
  local cmd=${COMP_WORDS[0]##*/} cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
  local sub words
  sub=$(_cfs_sub)
  COMPREPLY=()
  case $prev in
  --root | --upper | --work | --cert-dir | --log | -o | --output | -i | --input | -f | --file | \
    --authfile | --known-hosts | --digestfile)
    # shellcheck disable=SC2207  # split on IFS (newlines); bash and zsh alike
    COMPREPLY=($(compgen -f -- "$cur"))
    return 0
    ;;
  esac
  if [[ -z $sub && $cur == -* ]]; then
    words="--help"$'\n'"--version"$'\n'"--root"$'\n'"--threads"$'\n'"-q"
  elif [[ -z $sub ]]; then
    words=$(_cfs_help_words "$cmd")
  elif [[ $cur == -* ]]; then
    words=$(_cfs_help_words "$cmd" "$sub")
  else
    case $cmd:$sub in
    cimg:push | cimg:inspect | cimg:tag | cimg:rmi | cimg:history | cimg:diff | cimg:save | \
      cimg:deploy | cimg:sbom | cimg:ls | cimg:cat | cimg:cp | cimg:export | cimg:sign | clusterfs:mount)
      words=$(_cfs_images)
      ;;
    clusterfs:umount)
      words=$(awk '$3 == "fuse.clusterfs" {print $2}' /proc/mounts)
      ;;
    *)
      # shellcheck disable=SC2207  # split on IFS (newlines); bash and zsh alike
      COMPREPLY=($(compgen -f -- "$cur"))
      return 0
      ;;
    esac
  fi
  # shellcheck disable=SC2207  # split on IFS (newlines); bash and zsh alike
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  if [[ $cmd:$sub == clusterfs:mount && $cur != -* ]]; then
    # shellcheck disable=SC2207  # split on IFS (newlines); bash and zsh alike
    COMPREPLY+=($(compgen -d -- "$cur"))
  fi
  return 0
}

complete -F _cfs_complete cimg clusterfs
