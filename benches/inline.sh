#!/usr/bin/env bash
# The inline benchmark: client -> gateway -> server in three network namespaces, iperf3 through
# the gateway for a fixed time, and a TCP request/response ping-pong for latency, in three setups:
#
#   none    no NFQUEUE rule: the kernel's forwarding ceiling
#   accept  `nfips run --accept-all`: our NFQUEUE layer accepting everything, the floor of any
#           NFQUEUE IPS
#   nfips   `nfips run` with the rules given (default: the ET Open corpus)
#
# Prints each setup's throughput and latency (p50/p99 idle, and for nfips also while iperf3 runs at
# half of nfips's throughput), and nfips as a ratio to the other two. nfips runs twice: with
# the defaults (flows past stream.depth are bypassed) and with stream.depth=0 (every byte inspected).
# Needs root, iproute2, iptables, iperf3, python3. Traffic stays inside namespaces it creates
# (198.18.0.0/15) and everything is deleted on exit.
#
# HOME_NET is set as a deployment sets it: by default to the server side, 198.18.2.0/24, with
# EXTERNAL_NET !$HOME_NET (override with the HOME_NET and EXTERNAL_NET environment variables;
# HOME_NET=any EXTERNAL_NET=any gives the unconfigured figure).
#
# usage: [HOME_NET=...] [EXTERNAL_NET=...] benches/inline.sh [NFIPS_BINARY] [RULES] [SECONDS]
set -euo pipefail
BIN=$(realpath "${1:-target/release/nfips}")
RULES=${2:-../shared/corpus/rulesets/et-open-snort-2.9.0}
SECONDS_PER_RUN=${3:-10}
HOME_NET=${HOME_NET:-[198.18.2.0/24]}
EXTERNAL_NET=${EXTERNAL_NET:-'!$HOME_NET'}
VARS=$(mktemp /tmp/nfips-inline-vars.XXXXXX)
printf 'ipvar HOME_NET %s\nipvar EXTERNAL_NET %s\n' "$HOME_NET" "$EXTERNAL_NET" >"$VARS"
PINGS=2000
C=nfb-c$$ G=nfb-g$$ S=nfb-s$$
DAEMON=

cleanup() {
    if [ -n "$DAEMON" ]; then kill -TERM "$DAEMON" 2>/dev/null || true; wait "$DAEMON" 2>/dev/null || true; fi
    for n in $C $G $S; do ip netns del "$n" 2>/dev/null || true; done
    rm -f "$VARS"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "benches/inline.sh: needs root (network namespaces, iptables)" >&2; exit 2; }
for tool in ip iptables iperf3 python3; do
    command -v $tool >/dev/null || { echo "benches/inline.sh: $tool not found (apt-get install iproute2 iptables iperf3 python3)" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "benches/inline.sh: $BIN not built (cargo build --release)" >&2; exit 2; }

for n in $C $G $S; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip -n $G link add gc type veth peer name eth0 netns $C
ip -n $G link add gs type veth peer name eth0 netns $S
ip -n $C addr add 198.18.1.2/24 dev eth0 && ip -n $C link set eth0 up
ip -n $G addr add 198.18.1.1/24 dev gc && ip -n $G link set gc up
ip -n $G addr add 198.18.2.1/24 dev gs && ip -n $G link set gs up
ip -n $S addr add 198.18.2.2/24 dev eth0 && ip -n $S link set eth0 up
ip -n $C route add default via 198.18.1.1
ip -n $S route add default via 198.18.2.1
ip netns exec $G sysctl -qw net.ipv4.ip_forward=1

# A TCP echo server in the server namespace, for the ping-pong.
ip netns exec $S python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.2.2", 7007)); s.listen(8)
while True:
    c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while (d := c.recv(64)): c.sendall(d)
    c.close()
' &
ECHO=$!
trap 'kill $ECHO 2>/dev/null || true; cleanup' EXIT

start_daemon() {
    ip netns exec $G "$BIN" firewall --apply --fail-closed >/dev/null
    ip netns exec $G "$BIN" run --queue 0 "$@" 2>/tmp/nfips-inline-bench.log &
    DAEMON=$!
    # Wait until the queue is bound (the kernel lists it).
    for _ in $(seq 100); do
        ip netns exec $G grep -q "^ *0 " /proc/net/netfilter/nfnetlink_queue 2>/dev/null && break
        sleep 0.1
    done
    sleep 1
}

stop_daemon() {
    kill -TERM "$DAEMON"; wait "$DAEMON" || true; DAEMON=
    ip netns exec $G "$BIN" firewall --remove >/dev/null
}

throughput() {  # prints Gbit/s of a SECONDS_PER_RUN iperf3 run
    ip netns exec $S iperf3 -s -1 -D -p 5201 >/dev/null 2>&1; sleep 0.3
    timeout $((SECONDS_PER_RUN + 20)) ip netns exec $C iperf3 -c 198.18.2.2 -p 5201 -t "$SECONDS_PER_RUN" -J |
        python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}

latency() {  # [LOAD_GBIT] prints "p50_us p99_us" of the ping-pong, with iperf3 at LOAD_GBIT meanwhile
    local load=${1:-0} iperf=
    if [ "$load" != 0 ]; then
        ip netns exec $S iperf3 -s -1 -D -p 5202 >/dev/null 2>&1; sleep 0.3
        timeout 90 ip netns exec $C iperf3 -c 198.18.2.2 -p 5202 -t 60 -b "${load}G" >/dev/null 2>&1 &
        iperf=$!
        sleep 1
    fi
    timeout 60 ip netns exec $C python3 -c '
import socket, time, sys
n = int(sys.argv[1]); c = socket.create_connection(("198.18.2.2", 7007), timeout=5)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
rtts = []
for i in range(n):
    t = time.perf_counter_ns(); c.sendall(b"x" * 64); got = 0
    while got < 64: got += len(c.recv(64 - got))
    rtts.append((time.perf_counter_ns() - t) / 1000)
rtts.sort(); print("%.0f %.0f" % (rtts[n // 2], rtts[n * 99 // 100]))
' $PINGS
    if [ -n "$iperf" ]; then
        kill "$iperf" 2>/dev/null || true; wait "$iperf" 2>/dev/null || true
        ip netns exec $S pkill -f "iperf3 -s -1 -D -p 5202" 2>/dev/null || true
    fi
}

measure() {  # prints "gbit p50_us p99_us" (latency on an otherwise idle path)
    echo "$(throughput) $(latency)"
}

echo "inline benchmark: ${SECONDS_PER_RUN}s iperf3 per setup, $PINGS ping-pongs; nfips rules: $RULES"
echo "HOME_NET $HOME_NET, EXTERNAL_NET $EXTERNAL_NET"
read -r none_g none_p50 none_p99 <<<"$(measure)"
start_daemon --accept-all
read -r acc_g acc_p50 acc_p99 <<<"$(measure)"
stop_daemon
# Issue 7's latency target: p99 added at half of nfips's own throughput.
nfips_setup() {  # NAME [nfips run arguments...]: throughput, idle latency, latency at half load
    local name=$1; shift
    start_daemon --rules "$RULES" --vars "$VARS" "$@"
    local g p50 p99 half l50 l99 n50 n99
    read -r g p50 p99 <<<"$(measure)"
    half=$(python3 -c "print('%.3f' % ($g / 2))")
    read -r l50 l99 <<<"$(latency "$half")"
    stop_daemon
    read -r n50 n99 <<<"$(latency "$half")"
    echo "$name $g $p50 $p99 $half $l50 $l99 $n50 $n99"
}
# Defaults (a flow past stream.depth, 1 MiB, is bypassed in the kernel, as Suricata does), and
# every byte inspected (stream.depth=0), the figure that measures the inspection path itself.
rows=("$(nfips_setup nfips)" "$(nfips_setup nfips-all --set stream.depth=0)")

printf '%-10s %8s %7s %7s | %s\n' setup Gbit/s p50_us p99_us "at half load: Gbit/s, p50/p99 with nfips, p50/p99 without"
printf '%-10s %8s %7s %7s |\n' none "$none_g" "$none_p50" "$none_p99"
printf '%-10s %8s %7s %7s |\n' accept "$acc_g" "$acc_p50" "$acc_p99"
for row in "${rows[@]}"; do
    read -r name g p50 p99 half l50 l99 n50 n99 <<<"$row"
    printf '%-10s %8s %7s %7s | %s  %s/%s  %s/%s\n' "$name" "$g" "$p50" "$p99" "$half" "$l50" "$l99" "$n50" "$n99"
    python3 - "$name" "$none_g" "$acc_g" "$g" "$none_p50" "$none_p99" "$p50" "$p99" "$n50" "$n99" "$l50" "$l99" <<'PY'
import sys
name = sys.argv[1]
none, acc, nf, n50, n99, f50, f99, nl50, nl99, fl50, fl99 = map(float, sys.argv[2:])
print(f"  {name}: {nf / none:.0%} of the no-queue ceiling, {nf / acc:.0%} of the accept-all floor;"
      f" added latency idle p50 {f50 - n50:+.0f} us p99 {f99 - n99:+.0f} us,"
      f" at half load p50 {fl50 - nl50:+.0f} us p99 {fl99 - nl99:+.0f} us")
PY
done
