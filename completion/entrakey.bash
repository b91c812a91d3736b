# bash completion for entrakey                             -*- shell-script -*-
#
# Commands, subcommands, options (read from `entrakey CMD --help`, so they
# follow the binary), the values of --resource, --cloud, --format, --alg,
# --sig, --bits, profile names (`entrakey profile list`) and token and key
# URIs (`entrakey tokens --json`, `entrakey keys --json`). Installed as
# share/bash-completion/completions/entrakey; needs nothing from the
# bash-completion package.
#
# Never a PIN prompt: entrakey runs with no PIN source, stdin from
# /dev/null, without a controlling terminal (setsid) and under a 3-second
# timeout; a token that hides its keys until a login simply offers none.

# the commands when `entrakey --help` cannot be read
_entrakey_cmds="quickstart tokens keys keygen cert init assert token exec agent rotate profile check"

# _entrakey_quiet ARGS...: the entrakey being completed, safely.
_entrakey_quiet()
{
    local ek=${_entrakey_bin:-entrakey} pre=()
    command -v timeout >/dev/null 2>&1 && pre+=(timeout 3)
    command -v setsid >/dev/null 2>&1 && pre+=(setsid -w)
    "${pre[@]}" "$ek" "$@" </dev/null 2>/dev/null
}

# _entrakey_help [CMD [SUB]]: `entrakey ... --help`, read once a session.
declare -gA _entrakey_helpcache 2>/dev/null || declare -A _entrakey_helpcache
# (The readers below run in $(...): _entrakey_prime fills the cache in the
# completing shell first.)
_entrakey_prime()
{
    local key="${_entrakey_bin:-entrakey} $* --help"
    [ -n "${_entrakey_helpcache[$key]+set}" ] ||
        _entrakey_helpcache[$key]=$(_entrakey_quiet "$@" --help)
}
_entrakey_help()
{
    _entrakey_prime "$@"
    printf '%s\n' "${_entrakey_helpcache[${_entrakey_bin:-entrakey} $* --help]}"
}

# _entrakey_opts CMD [SUB]: "options|options-taking-a-value|value-lists"
# from the command's --help, cached per command for the session.
declare -gA _entrakey_optcache 2>/dev/null || declare -A _entrakey_optcache
_entrakey_opts()
{
    local key="${_entrakey_bin:-entrakey} $*" line opts="" vopts="" vals="" re w
    if [ -n "${_entrakey_optcache[$key]+set}" ]; then
        printf '%s' "${_entrakey_optcache[$key]}"
        return
    fi
    re='(--[a-z0-9][a-z0-9-]*)( ([A-Z][A-Z0-9_.-]*|[A-Za-z0-9.-]+(\|[A-Za-z0-9.-]+)+))?'
    while IFS= read -r line; do
        # option lines ("  --x VALUE  text", "  -v, --verbose") and usage
        # lines ("[--x VALUE]"); not option names inside prose
        case "$line" in
            usage:* | " "*) ;;
            *) continue ;;
        esac
        [[ $line =~ ^\ +(-[a-zA-Z],\ )?--|\[--|^usage: ]] || continue
        while [[ $line =~ $re ]]; do
            w=${BASH_REMATCH[1]}
            case " $opts " in *" $w "*) ;; *) opts+=" $w" ;; esac
            if [ -n "${BASH_REMATCH[3]}" ]; then
                case " $vopts " in *" $w "*) ;; *) vopts+=" $w" ;; esac
                [ -n "${BASH_REMATCH[4]}" ] &&
                    vals+=" $w=${BASH_REMATCH[3]}"
            fi
            line=${line#*"${BASH_REMATCH[0]}"}
        done
    done < <(_entrakey_help "$@")
    _entrakey_optcache[$key]="$opts|$vopts|$vals"
    printf '%s' "$opts|$vopts|$vals"
}

# _entrakey_commands: the commands of `entrakey --help`, and help.
_entrakey_commands()
{
    local line in=0 cmds="" key="${_entrakey_bin:-entrakey} --help"
    if [ -n "${_entrakey_optcache[$key]+set}" ]; then
        printf '%s' "${_entrakey_optcache[$key]}"
        return
    fi
    while IFS= read -r line; do
        if [[ $line == commands:* ]]; then
            in=1
        elif [ $in -eq 1 ] && [[ $line =~ ^\ \ ([a-z][a-z0-9-]*)(\ |$) ]]; then
            cmds+=" ${BASH_REMATCH[1]}"
        elif [ $in -eq 1 ] && [[ $line != " "* ]]; then
            in=0
        fi
    done < <(_entrakey_help)
    _entrakey_optcache[$key]="${cmds:-$_entrakey_cmds} help"
    printf '%s' "${_entrakey_optcache[$key]}"
}

# _entrakey_subcommands CMD: the WORDs of "entrakey CMD WORD" in its usage
# lines (cert: create csr import show).
_entrakey_subcommands()
{
    local line subs="" key="${_entrakey_bin:-entrakey} $1 subcommands"
    if [ -n "${_entrakey_optcache[$key]+set}" ]; then
        printf '%s' "${_entrakey_optcache[$key]}"
        return
    fi
    while IFS= read -r line; do
        [[ $line =~ ^(usage:)?\ +entrakey\ $1\ ([a-z][a-z0-9-]*)(\ |$) ]] || continue
        case " $subs " in *" ${BASH_REMATCH[2]} "*) ;; *) subs+=" ${BASH_REMATCH[2]}" ;; esac
    done < <(_entrakey_help "$1")
    _entrakey_optcache[$key]=$subs
    printf '%s' "$subs"
}

# _entrakey_json_uris ARGS...: the "uri" values of entrakey ARGS --json.
_entrakey_json_uris()
{
    _entrakey_quiet "$@" --json |
        sed -n 's/.*"uri":[[:space:]]*"\([^"\\]*\)".*/\1/p'
}

# _entrakey_uris tokens|keys: URIs, with the --module of the command line.
_entrakey_uris()
{
    local mod=() i
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        if [ "${COMP_WORDS[i]}" = --module ]; then
            mod=(--module "${COMP_WORDS[i + 1]}")
        fi
    done
    _entrakey_json_uris "${mod[@]}" "$1"
}

# _entrakey_reply_uris WORD URIS: URIs that start with WORD, quoted so the
# shell does not cut them at ';'.
_entrakey_reply_uris()
{
    local word=$1 u q="" trim=""
    local line=${COMP_LINE:0:COMP_POINT}
    local full=${line##*[[:space:]]}
    case "$full" in
        \'* | \"*) q=${full:0:1}; full=${full:1} ;;
    esac
    if [ -z "$q" ] && [ -n "$full" ]; then
        # bash splits an unquoted word at ':' and '='; reply with the rest
        trim=${full%"$word"}
    fi
    while IFS= read -r u; do
        [ -n "$u" ] || continue
        case "$u" in "$full"*) ;; *) continue ;; esac
        if [ -n "$q" ]; then
            COMPREPLY+=("$u")
        elif [ -z "$full" ]; then
            COMPREPLY+=("'$u'")
        else
            u=${u#"$trim"}
            COMPREPLY+=("${u//;/\\;}")
        fi
    done <<<"$2"
}

_entrakey()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev="" cmd="" sub="" subs="" i w
    local info opts vopts vals globalv=" --module --pin-source "
    COMPREPLY=()
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
    local _entrakey_bin=${COMP_WORDS[0]}
    case "$_entrakey_bin" in
        */*) [ -x "$_entrakey_bin" ] || _entrakey_bin=entrakey ;;
        *) _entrakey_bin=entrakey ;;
    esac

    _entrakey_prime
    # the command: the first word that is neither an option nor its value
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [ "$w" = -- ]; then
            break
        elif [ -z "$cmd" ]; then
            case "$w" in
                -*) case "$globalv" in *" $w "*) i=$((i + 1)) ;; esac ;;
                *) cmd=$w ;;
            esac
        elif [ -z "$sub" ] && [[ $w != -* ]]; then
            [ -n "$subs" ] || { _entrakey_prime "$cmd"; subs=" $(_entrakey_subcommands "$cmd") "; }
            case "$subs" in *" $w "*) sub=$w ;; esac
        fi
    done
    # after `exec ... --`: the command to run
    if [ "$cmd" = exec ]; then
        for ((i = 1; i < COMP_CWORD; i++)); do
            if [ "${COMP_WORDS[i]}" = -- ]; then
                COMPREPLY=($(compgen -c -- "$cur"))
                return
            fi
        done
    fi

    if [ -z "$cmd" ]; then
        case "$prev" in
            --module) COMPREPLY=($(compgen -f -- "$cur")); return ;;
            --pin-source) COMPREPLY=($(compgen -W "env: file: fd:" -- "$cur"))
                compopt -o nospace 2>/dev/null; return ;;
        esac
        case "$cur" in
            -*) info=$(_entrakey_opts)
                COMPREPLY=($(compgen -W "${info%%|*} --version" -- "$cur")) ;;
            *) COMPREPLY=($(compgen -W "$(_entrakey_commands)" -- "$cur")) ;;
        esac
        return
    fi
    if [ "$cmd" = help ]; then
        COMPREPLY=($(compgen -W "$(_entrakey_commands)" -- "$cur"))
        return
    fi
    _entrakey_prime "$cmd"
    if [ -z "$sub" ] && [[ $cur != -* ]]; then
        w=$(_entrakey_subcommands "$cmd")
        if [ -n "$w" ]; then
            COMPREPLY=($(compgen -W "$w" -- "$cur"))
            # a command that also takes an argument of its own (keys
            # [TOKEN-URI] | keys delete): on to the positional below
            _entrakey_help "$cmd" | grep -qE "^(usage:)? +entrakey $cmd [A-Z[]" ||
                return
        fi
    fi

    _entrakey_prime "$cmd" ${sub:+"$sub"}
    info=$(_entrakey_opts "$cmd" ${sub:+"$sub"})
    opts=${info%%|*}
    vopts=${info#*|}; vals=${vopts#*|}; vopts=${vopts%%|*}

    # the value of an option
    case "$prev" in
        --resource) COMPREPLY=($(compgen -W "exo graph arm compliance" -- "$cur")); return ;;
        --cloud) COMPREPLY=($(compgen -W "global usgov usgov-dod china" -- "$cur")); return ;;
        --alg) COMPREPLY=($(compgen -W "PS256 RS256" -- "$cur")); return ;;
        --profile)
            local cfg=() names
            for ((i = 1; i < COMP_CWORD; i++)); do
                [ "${COMP_WORDS[i]}" = --config ] && cfg=(--config "${COMP_WORDS[i + 1]}")
            done
            names=$(_entrakey_quiet profile list "${cfg[@]}")
            COMPREPLY=($(compgen -W "$names" -- "$cur"))
            return ;;
        --pin-source | --so-pin-source)
            case "$cur" in
                file:*) COMPREPLY=($(compgen -f -P file: -- "${cur#file:}")) ;;
                *) COMPREPLY=($(compgen -W "env: file: fd:" -- "$cur")) ;;
            esac
            compopt -o nospace 2>/dev/null
            return ;;
        --module | --config | --ca-file | --cert | --out | --pem)
            COMPREPLY=($(compgen -f -- "$cur"))
            compopt -o filenames 2>/dev/null
            return ;;
    esac
    case " $vopts $globalv " in
        *" $prev "*)
            # a value list from the help (--format raw|json|..., --bits ...)
            for w in $vals; do
                if [ "${w%%=*}" = "$prev" ]; then
                    w=${w#*=}
                    COMPREPLY=($(compgen -W "${w//|/ }" -- "$cur"))
                    return
                fi
            done
            return ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi

    # a positional argument: is one already given?
    local npos=0 skip=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [ $skip -eq 1 ]; then skip=0; continue; fi
        case "$w" in
            -*) case " $vopts $globalv " in *" $w "*) skip=1 ;; esac ;;
            "$cmd" | "$sub") ;;
            *) npos=$((npos + 1)) ;;
        esac
    done
    case "$cmd${sub:+ $sub}" in
        keys)
            if [ $npos -eq 0 ]; then
                COMPREPLY=($(compgen -W "delete" -- "$cur"))
                _entrakey_reply_uris "$cur" "$(_entrakey_uris tokens)"
            fi ;;
        keygen | init)
            [ $npos -eq 0 ] && _entrakey_reply_uris "$cur" "$(_entrakey_uris tokens)" ;;
        token | assert | exec | rotate | "cert create" | "cert csr" | "cert import" | \
            "cert export" | "keys delete" | check)
            [ $npos -eq 0 ] && _entrakey_reply_uris "$cur" "$(_entrakey_uris keys)"
            [ "$cmd $sub" = "cert import" ] && [ $npos -eq 1 ] &&
                COMPREPLY=($(compgen -f -- "$cur")) ;;
        "cert show")
            [ $npos -eq 0 ] && _entrakey_reply_uris "$cur" "$(_entrakey_uris keys)"
            COMPREPLY+=($(compgen -f -- "$cur")) ;;
        "profile show" | "profile remove" | "profile add")
            if [ $npos -eq 0 ] && [ "$sub" != add ]; then
                local cfg=()
                for ((i = 1; i < COMP_CWORD; i++)); do
                    [ "${COMP_WORDS[i]}" = --config ] && cfg=(--config "${COMP_WORDS[i + 1]}")
                done
                COMPREPLY=($(compgen -W "$(_entrakey_quiet profile list "${cfg[@]}")" -- "$cur"))
            fi ;;
    esac
}
complete -F _entrakey entrakey
