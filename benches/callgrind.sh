#!/usr/bin/env bash
# Instructions per byte of nfips' packet path, counted by callgrind: the same figure on every run
# on a noisy shared machine (timings are not), so two commits can be compared without noise.
#
# Runs `nfips bench --json` on a small fixed input under `valgrind --tool=callgrind`, collecting
# only inside nfips_engine::bench::run_worker (the per-packet loop; never inlined for this
# purpose): rule loading, capture generation and worker setup are not counted. Prints the
# instructions (Ir), the bytes and packets they processed, Ir per byte and per packet.
#
# Under valgrind Vectorscan still works, but valgrind's CPU has no AVX-512: Vectorscan refuses
# databases compiled natively and compiles its own (minutes for ET Open). Those go to a cache
# directory of their own (default ~/.cache/nfips-callgrind), never to nfips' usual one, where
# native runs would take them and run slower. So the first run with new rules is slow (ET Open,
# the default input, 2-CPU machine: 96 s), later ones are not (13 s).
# Counts repeat to within about 0.1 %, not exactly (two runs: 218,695,147 and 218,809,125 Ir):
# flow tables use keyed hashes with a random key per run. A change smaller than that needs
# several runs to be judged.
#
# usage: benches/callgrind.sh [options]
# options:
#   --nfips BIN          nfips (default $NFIPS, else ${CARGO_TARGET_DIR:-target}/release/nfips)
#   --rules FILE|DIR     rules (default $RULES, else ../shared/corpus/rulesets/et-open-snort-2.9.0
#                        beside the repository; --rules '' for none)
#   --vars FILE          variables file (default: HOME_NET from --home-net, EXTERNAL_NET !$HOME_NET)
#   --home-net NET       HOME_NET when no --vars is given (default '[198.18.2.0/24]')
#   --synthetic KIND     synthetic traffic (default gateway)
#   --megabytes N        of synthetic traffic (default 8)
#   --seed S             of synthetic traffic (default 1)
#   --pcap FILE          a capture instead of synthetic traffic
#   --set KEY=VALUE      an nfips setting (repeatable), e.g. --set detect.mpm=hash
#   --cache-dir DIR      Vectorscan cache for runs under valgrind (default $NFIPS_CALLGRIND_CACHE,
#                        else ${XDG_CACHE_HOME:-~/.cache}/nfips-callgrind)
#   --out FILE           keep callgrind's output there (for callgrind_annotate)
set -euo pipefail

prog=benches/callgrind.sh
root=$(cd "$(dirname "$0")/.." && pwd)
beside=$(cd "$root/.." && pwd)

die() { printf '%s: %b\n' "$prog" "$*" >&2; exit 2; }
usage() { sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

NFIPS=${NFIPS:-${CARGO_TARGET_DIR:-$root/target}/release/nfips}
RULES=${RULES-$beside/shared/corpus/rulesets/et-open-snort-2.9.0}
VARS=
HOME_NET='[198.18.2.0/24]'
KIND=gateway MEGABYTES=8 SEED=1
PCAP=
SETS=()
CACHE_DIR=${NFIPS_CALLGRIND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nfips-callgrind}
OUT=

need_value() { [ "$2" -ge 2 ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
    case $1 in
        --nfips) need_value "$1" $#; NFIPS=$2; shift 2 ;;
        --rules) need_value "$1" $#; RULES=$2; shift 2 ;;
        --vars) need_value "$1" $#; VARS=$2; shift 2 ;;
        --home-net) need_value "$1" $#; HOME_NET=$2; shift 2 ;;
        --synthetic) need_value "$1" $#; KIND=$2; shift 2 ;;
        --megabytes) need_value "$1" $#; MEGABYTES=$2; shift 2 ;;
        --seed) need_value "$1" $#; SEED=$2; shift 2 ;;
        --pcap) need_value "$1" $#; PCAP=$2; shift 2 ;;
        --set) need_value "$1" $#; SETS+=(--set "$2"); shift 2 ;;
        --cache-dir) need_value "$1" $#; CACHE_DIR=$2; shift 2 ;;
        --out) need_value "$1" $#; OUT=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done

command -v valgrind >/dev/null || die "valgrind not found (apt-get install valgrind)"
[ -x "$NFIPS" ] || die "nfips not found or not executable: $NFIPS (cargo build --release --features vectorscan; --nfips or \$NFIPS)"
[ -z "$RULES" ] || [ -e "$RULES" ] || die "rules not found: $RULES (--rules or \$RULES)"
[ -z "$VARS" ] || [ -f "$VARS" ] || die "vars file not found: $VARS"
[[ $MEGABYTES =~ ^[1-9][0-9]*$ ]] || die "--megabytes wants a positive number, not '$MEGABYTES'"
[[ $SEED =~ ^[0-9]+$ ]] || die "--seed wants a number, not '$SEED'"
[ -z "$PCAP" ] || [ -r "$PCAP" ] || die "capture not found or not readable: $PCAP"
mkdir -p "$CACHE_DIR" || die "cannot create the cache directory $CACHE_DIR (--cache-dir)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/callgrind.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ -z "$VARS" ]; then
    VARS=$tmp/vars.conf
    printf 'ipvar HOME_NET %s\nipvar EXTERNAL_NET !$HOME_NET\n' "$HOME_NET" >"$VARS"
fi
args=(bench --json --workers 1 --iterations 1 --vars "$VARS"
      --set "detect.cache-dir=$CACHE_DIR" "${SETS[@]}")
[ -z "$RULES" ] || args+=(--rules "$RULES")
if [ -n "$PCAP" ]; then
    args+=("$PCAP")
    input="capture $PCAP"
else
    args+=(--synthetic "$KIND" --megabytes "$MEGABYTES" --seed "$SEED")
    input="--synthetic $KIND --megabytes $MEGABYTES --seed $SEED"
fi

out=${OUT:-$tmp/callgrind.out}
started=$(date +%s)
valgrind --tool=callgrind --callgrind-out-file="$out" \
    --collect-atstart=no --toggle-collect='nfips_engine::bench::run_worker' \
    "$NFIPS" "${args[@]}" >"$tmp/bench.json" 2>"$tmp/valgrind.txt" \
    || die "nfips under valgrind failed:\n$(tail -n 20 "$tmp/valgrind.txt")"
took=$(( $(date +%s) - started ))

json=$(cat "$tmp/bench.json")
number() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$json"; }
string() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" <<<"$json"; }
ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out")
bytes=$(number bytes)
packets=$(number packets)
[ -n "$bytes" ] && [ -n "$packets" ] || die "unexpected output of nfips bench --json: $json"
[ -n "$ir" ] && [ "$ir" -gt 0 ] \
    || die "callgrind counted nothing: is nfips_engine::bench::run_worker in $NFIPS (nm -C)?"
hits=$(number hits) misses=$(number misses) rejected=$(number rejected)

echo "input:        $input ($packets packets, $bytes bytes)"
echo "rules:        ${RULES:-none} ($(number rules) loaded)"
echo "HOME_NET:     $(string home_net)"
echo "EXTERNAL_NET: $(string external_net)"
if [ $((hits + misses + rejected)) -gt 0 ]; then
    echo "matcher:      Vectorscan ($((hits + misses + rejected)) databases: $hits from $CACHE_DIR, $((misses + rejected)) compiled under valgrind)"
else
    echo "matcher:      no Vectorscan database (hash matcher, or too few patterns)"
fi
echo "settings:     ${SETS[*]:-defaults}"
echo "Ir:           $ir"
awk -v ir="$ir" -v b="$bytes" -v p="$packets" \
    'BEGIN { printf "Ir per byte:  %.2f\nIr per packet: %.0f\n", ir / b, ir / p }'
echo "took:         ${took} s under valgrind"
[ -z "$OUT" ] || echo "callgrind output: $OUT (callgrind_annotate $OUT)"
