# bash completion for dlock(1)                                    -*- shell-script -*-
#
# Installed as share/bash-completion/completions/dlock, which bash-completion loads the
# first time `dlock` is completed; without bash-completion, source this file from
# ~/.bashrc (then URIs and --opt=VALUE complete less well: bash splits words at ':' and
# '=', and bash-completion's helpers put them together again).
#
# Keep the lists in step with cli/main.cc: tests/integration/cli_unix_test.py checks that
# every subcommand and option that `dlock --help` and `dlock SUB --help` print is completed.

# The options of a command ('' for dlock's own; they may also follow the command).
_dlock_options() {
  case $1 in
    '') echo '-h --help --version --backend --log-level --log-format --metrics-listen' ;;
    run) echo '-h --help --ttl --wait --grace' ;;
    acquire) echo '-h --help --ttl --wait --json' ;;
    extend) echo '-h --help --owner --ttl' ;;
    release) echo '-h --help --owner --force' ;;
    inspect) echo '-h --help --json --watch' ;;
    bench)
      echo '-h --help --mode --concurrency --workers --hold --locks --duration --ttl --json' \
        '--processes --lock'
      ;;
    fence) echo '-h --help --token' ;;
  esac
}

# Whether option $1 takes a value (the next word, or after '=').
_dlock_takes_value() {
  case $1 in
    --backend | --log-level | --log-format | --metrics-listen | --ttl | --wait | --grace | \
      --owner | --mode | --concurrency | --workers | --hold | --locks | --duration | --lock | \
      --token)
      return 0
      ;;
  esac
  return 1
}

# COMPREPLY for a URI: the schemes given, or directories after file://.
_dlock_uris() {
  if [[ $cur == file://* ]]; then
    local IFS=$'\n'
    COMPREPLY=($(compgen -d -P file:// -S / -- "${cur#file://}"))
  else
    COMPREPLY=($(compgen -W "$*" -- "$cur"))
  fi
  # No space after a scheme or a directory: the URI goes on.
  if ((${#COMPREPLY[@]} != 1)) || [[ ${COMPREPLY[0]} == */ ]]; then
    compopt -o nospace 2>/dev/null
  fi
  # bash replaces only the part of the word after its last ':'.
  if declare -F __ltrim_colon_completions >/dev/null; then __ltrim_colon_completions "$cur"; fi
}

_dlock() {
  local cur prev words cword split
  if declare -F _init_completion >/dev/null; then
    _init_completion -s -n : || return
  else
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    if [[ $cur == = ]]; then
      cur=''
    elif [[ $prev == = ]]; then
      prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi
  fi

  # The command, and the arguments after it, up to the first `--` (what follows it is the
  # command of `run`, or the write of `fence`, and never dlock's).
  local command='' i word
  local -a args=()
  for ((i = 1; i < cword; i++)); do
    word=${words[i]}
    [[ $word == -- ]] && break
    if [[ $word == -* ]]; then
      [[ $word != *=* ]] && _dlock_takes_value "$word" && ((i++))
    elif [[ -z $command ]]; then
      command=$word
    else
      args+=("$word")
    fi
  done
  if ((i < cword)); then  # after the `--`
    local offset
    for ((offset = 1; offset < COMP_CWORD; offset++)); do
      [[ ${COMP_WORDS[offset]} == -- ]] && break
    done
    ((offset++))
    if [[ $command == run || ($command == fence && ${args[0]-} == file) ]]; then
      if declare -F _command_offset >/dev/null; then
        _command_offset "$offset"
      elif ((COMP_CWORD == offset)); then
        COMPREPLY=($(compgen -c -- "$cur"))
      else
        COMPREPLY=($(compgen -f -- "$cur"))
      fi
    fi
    return
  fi

  if [[ $prev == -* ]] && _dlock_takes_value "$prev"; then
    case $prev in
      --backend) _dlock_uris file:// redis:// rediss:// redis+sentinel:// rediss+sentinel:// redis+cluster:// rediss+cluster:// redlock:// etcd:// zk:// ;;
      --log-level) COMPREPLY=($(compgen -W 'off error warn info debug trace' -- "$cur")) ;;
      --log-format) COMPREPLY=($(compgen -W 'text json' -- "$cur")) ;;
      --mode) COMPREPLY=($(compgen -W 'seq conc contended hold' -- "$cur")) ;;
    esac
    return  # the others take free text: durations, numbers, ids, names
  fi
  [[ ${split-} == true ]] && return

  if [[ -z $command ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "$(_dlock_options '')" -- "$cur"))
    else
      COMPREPLY=($(compgen -W 'run acquire extend release inspect bench fence' -- "$cur"))
    fi
    return
  fi
  if [[ $cur == -* ]]; then
    local -a options=($(_dlock_options "$command"))
    for word in $(_dlock_options ''); do
      [[ $word == -h || $word == --help ]] || options+=("$word")
    done
    [[ $command == run || $command == fence ]] && options+=(--)
    COMPREPLY=($(compgen -W "${options[*]}" -- "$cur"))
    return
  fi
  if [[ $command == fence ]]; then
    case ${#args[@]} in
      0) _dlock_uris file redis:// rediss:// etcd:// zk:// postgres:// postgresql:// ;;
      1)
        if [[ ${args[0]} == file ]]; then
          if declare -F _filedir >/dev/null; then
            _filedir
          else
            COMPREPLY=($(compgen -f -- "$cur"))
          fi
        fi
        ;;
    esac
  fi
}
complete -F _dlock dlock
