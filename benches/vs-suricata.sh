#!/usr/bin/env bash
# nfips beside Suricata on the same captures, rules and HOME_NET/EXTERNAL_NET, one worker each:
# `nfips bench --json` and `suricata -r CAPTURE --runmode single -v -k none`. For each capture
# it prints a table row per engine and run:
#
#   Gbit/s     capture frame bytes / processing time: Suricata's `time elapsed` (after its
#              engine started), nfips bench's own `gbps` (the same bytes, held in memory)
#   load s     Suricata: wall time minus time elapsed (rule loading, startup and shutdown);
#              nfips: load_ms (rule loading)
#   peak MiB   Suricata: /usr/bin/time -v "Maximum resident set size"; nfips: peak_rss_kb
#   alerts     Suricata: "Alerts: N" at exit; nfips: alerts
#
# and on nfips' row its throughput as a multiple of Suricata's in the same run. Both engines
# get the same single rules file (a directory's *.rules are concatenated, as Suricata's -S
# takes one file). Each engine runs once on each capture before the measured runs, so that
# Suricata's sgh-mpm cache and nfips' detect.cache-dir are warm: loads are compared warm.
# Suricata keeps its default outputs (eve.json, fast.log, stats.log); nfips bench writes none.
#
# usage: benches/vs-suricata.sh --home-net NET [options] CAPTURE...
#        benches/vs-suricata.sh --home-net NET [options] --synthetic KIND MEGABYTES
# options:
#   --home-net NET        HOME_NET for both engines, e.g. '[198.18.2.0/24]' (required: both
#                         engines' defaults differ, and figures depend on it)
#   --external-net NET    EXTERNAL_NET (default '!$HOME_NET')
#   --rules FILE|DIR      rules (default $RULES, else ../shared/corpus/rulesets/et-open-snort-2.9.0
#                         beside the repository)
#   --suricata BIN        Suricata (default $SURICATA, else ../shared/tools/suricata beside the
#                         repository)
#   --nfips BIN           nfips (default $NFIPS, else ${CARGO_TARGET_DIR:-target}/release/nfips)
#   --synthetic KIND MB   generate the capture with `nfips bench --write-pcap` (web, mixed,
#                         gateway) instead of giving captures
#   --seed S              seed of --synthetic (default 1)
#   --iterations N        measured runs of each engine per capture (default 1)
#   --suricata-arg ARG    one more argument for Suricata (repeatable), e.g.
#                         --suricata-arg --set --suricata-arg outputs.1.eve-log.enabled=no
set -euo pipefail

prog=benches/vs-suricata.sh
root=$(cd "$(dirname "$0")/.." && pwd)
beside=$(cd "$root/.." && pwd)

die() { printf '%s: %b\n' "$prog" "$*" >&2; exit 2; }
usage() { sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

SURICATA=${SURICATA:-$beside/shared/tools/suricata}
NFIPS=${NFIPS:-${CARGO_TARGET_DIR:-$root/target}/release/nfips}
RULES=${RULES:-$beside/shared/corpus/rulesets/et-open-snort-2.9.0}
HOME_NET=
EXTERNAL_NET='!$HOME_NET'
ITERATIONS=1
SYNTH_KIND= SYNTH_MB= SEED=1
CAPTURES=()
SURICATA_ARGS=()

need_value() { [ "$2" -ge 2 ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
    case $1 in
        --home-net) need_value "$1" $#; HOME_NET=$2; shift 2 ;;
        --external-net) need_value "$1" $#; EXTERNAL_NET=$2; shift 2 ;;
        --rules) need_value "$1" $#; RULES=$2; shift 2 ;;
        --suricata) need_value "$1" $#; SURICATA=$2; shift 2 ;;
        --nfips) need_value "$1" $#; NFIPS=$2; shift 2 ;;
        --seed) need_value "$1" $#; SEED=$2; shift 2 ;;
        --iterations) need_value "$1" $#; ITERATIONS=$2; shift 2 ;;
        --suricata-arg) need_value "$1" $#; SURICATA_ARGS+=("$2"); shift 2 ;;
        --synthetic)
            [ $# -ge 3 ] || die "--synthetic needs KIND and MEGABYTES, e.g. --synthetic web 64"
            SYNTH_KIND=$2 SYNTH_MB=$3; shift 3 ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) CAPTURES+=("$1"); shift ;;
    esac
done

[ -n "$HOME_NET" ] || die "give --home-net, e.g. --home-net '[198.18.2.0/24]' (see --help)"
[[ $ITERATIONS =~ ^[1-9][0-9]*$ ]] || die "--iterations wants a positive number, not '$ITERATIONS'"
if [ -n "$SYNTH_KIND" ]; then
    [ ${#CAPTURES[@]} -eq 0 ] || die "give either --synthetic or captures, not both"
    [[ $SYNTH_MB =~ ^[1-9][0-9]*$ ]] || die "--synthetic $SYNTH_KIND wants megabytes, not '$SYNTH_MB'"
    [[ $SEED =~ ^[0-9]+$ ]] || die "--seed wants a number, not '$SEED'"
elif [ ${#CAPTURES[@]} -eq 0 ]; then
    die "nothing to measure: give captures or --synthetic KIND MEGABYTES (see --help)"
fi
[ -x "$SURICATA" ] || die "Suricata not found or not executable: $SURICATA (--suricata or \$SURICATA)"
[ -x "$NFIPS" ] || die "nfips not found or not executable: $NFIPS (cargo build --release --features vectorscan; --nfips or \$NFIPS)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found: it gives Suricata's peak memory (apt-get install time)"
[ -e "$RULES" ] || die "rules not found: $RULES (--rules or \$RULES)"
for capture in "${CAPTURES[@]}"; do
    [ -f "$capture" ] && [ -r "$capture" ] || die "capture not found or not readable: $capture"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vs-suricata.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Suricata's -S takes one file: both engines get the same one, so they load the same rules.
if [ -d "$RULES" ]; then
    shopt -s nullglob
    files=("$RULES"/*.rules)
    shopt -u nullglob
    [ ${#files[@]} -gt 0 ] || die "no *.rules files in $RULES"
    cat "${files[@]}" >"$tmp/rules.rules"
    rules_file=$tmp/rules.rules
    rules_said="$RULES (its ${#files[@]} *.rules concatenated into one file for both engines)"
else
    rules_file=$RULES
    rules_said=$RULES
fi
printf 'ipvar HOME_NET %s\nipvar EXTERNAL_NET %s\n' "$HOME_NET" "$EXTERNAL_NET" >"$tmp/vars.conf"

if [ -n "$SYNTH_KIND" ]; then
    capture=$tmp/$SYNTH_KIND-${SYNTH_MB}MB-seed$SEED.pcap
    "$NFIPS" bench --synthetic "$SYNTH_KIND" --megabytes "$SYNTH_MB" --seed "$SEED" \
        --write-pcap "$capture" >/dev/null 2>"$tmp/synth.err" \
        || die "generating --synthetic $SYNTH_KIND $SYNTH_MB failed:\n$(tail -n 5 "$tmp/synth.err")"
    CAPTURES=("$capture")
fi

# One value from nfips bench's one-line JSON: a number, or a string's contents.
json_number() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" <<<"$1"; }
json_string() { sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" <<<"$1"; }
# Floating-point arithmetic, printed with a format.
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# nfips on $1: sets N_JSON, N_GBPS, N_LOAD, N_RSS_KB, N_ALERTS.
run_nfips() {
    N_JSON=$("$NFIPS" bench --json --rules "$rules_file" --vars "$tmp/vars.conf" "$1" 2>"$tmp/nfips.err") \
        || die "nfips failed on $1:\n$(tail -n 20 "$tmp/nfips.err")"
    N_GBPS=$(json_number "$N_JSON" gbps)
    N_LOAD=$(calc '%.2f' "$(json_number "$N_JSON" load_ms) / 1000")
    N_RSS_KB=$(json_number "$N_JSON" peak_rss_kb)
    N_ALERTS=$(json_number "$N_JSON" alerts)
    [ -n "$N_GBPS" ] && [ -n "$N_ALERTS" ] || die "unexpected output of nfips bench --json: $N_JSON"
}

# Suricata on $1, frame bytes $2: sets S_GBPS, S_LOAD, S_RSS_KB, S_ALERTS.
run_suricata() {
    local out=$tmp/suricata-log
    rm -rf "$out" && mkdir -p "$out"
    local started ended
    started=$(date +%s%N)
    /usr/bin/time -v -o "$tmp/time.txt" "$SURICATA" -r "$1" -S "$rules_file" -l "$out" -k none \
        --runmode single -v \
        --set "vars.address-groups.HOME_NET=$HOME_NET" \
        --set "vars.address-groups.EXTERNAL_NET=$EXTERNAL_NET" \
        "${SURICATA_ARGS[@]}" >"$tmp/suricata.txt" 2>&1 \
        || die "Suricata failed on $1:\n$(tail -n 20 "$tmp/suricata.txt")"
    ended=$(date +%s%N)
    local elapsed
    elapsed=$(sed -n 's/.*time elapsed \([0-9.]*\)s.*/\1/p' "$tmp/suricata.txt" | tail -n 1)
    [ -n "$elapsed" ] || die "no 'time elapsed' in Suricata's output (is -v honoured?):\n$(tail -n 20 "$tmp/suricata.txt")"
    S_GBPS=$(calc '%.4f' "$2 * 8 / $elapsed / 1e9")
    S_LOAD=$(calc '%.2f' "($ended - $started) / 1e9 - $elapsed")
    S_RSS_KB=$(sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\).*/\1/p' "$tmp/time.txt")
    S_ALERTS=$(sed -n 's/.*Alerts: \([0-9]*\).*/\1/p' "$tmp/suricata.txt" | tail -n 1)
    S_ALERTS=${S_ALERTS:-?}
}

mib() { calc '%.1f' "$1 / 1024"; }

echo "HOME_NET:     $HOME_NET"
echo "EXTERNAL_NET: $EXTERNAL_NET"
echo "rules:        $rules_said"
echo "suricata:     $SURICATA ($("$SURICATA" -V 2>/dev/null | head -n 1 || true))"
echo "nfips:        $NFIPS ($("$NFIPS" --version 2>/dev/null || true))"
echo "machine:      $(nproc) CPUs, one worker/thread per engine"
for capture in "${CAPTURES[@]}"; do
    name=$(basename "$capture")
    echo
    echo "capture $name: warm-up run of each engine (Suricata's sgh-mpm cache, nfips' detect cache), not reported"
    run_nfips "$capture"
    bytes=$(json_number "$N_JSON" bytes)
    packets=$(json_number "$N_JSON" packets)
    ran_home=$(json_string "$N_JSON" home_net)
    ran_external=$(json_string "$N_JSON" external_net)
    [ "$ran_home" = "$HOME_NET" ] && [ "$ran_external" = "$EXTERNAL_NET" ] \
        || die "nfips ran with HOME_NET '$ran_home', EXTERNAL_NET '$ran_external': the rules redefine them?"
    run_suricata "$capture" "$bytes"
    echo "capture $name: $packets packets, $bytes bytes of frames"
    echo
    echo "| capture | run | engine | Gbit/s | load s | peak MiB | alerts | nfips / Suricata |"
    echo "|---|---|---|---|---|---|---|---|"
    for run in $(seq 1 "$ITERATIONS"); do
        run_suricata "$capture" "$bytes"
        run_nfips "$capture"
        ratio=$(calc '%.2fx' "$N_GBPS / $S_GBPS")
        printf '| %s | %d | suricata | %.3f | %s | %s | %s | |\n' \
            "$name" "$run" "$S_GBPS" "$S_LOAD" "$(mib "${S_RSS_KB:-0}")" "$S_ALERTS"
        printf '| %s | %d | nfips | %.3f | %s | %s | %s | %s |\n' \
            "$name" "$run" "$N_GBPS" "$N_LOAD" "$(mib "$N_RSS_KB")" "$N_ALERTS" "$ratio"
    done
done
