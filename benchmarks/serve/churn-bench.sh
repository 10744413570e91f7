#!/usr/bin/env bash
# Connection churn: wrk with 'Connection: close' (one TCP connection per request) against
# 'protocols serve --http' over TUN, and against nginx (1 worker) on the kernel's own sockets in
# the same run, at several client counts, alternating the two servers.
#
# usage: churn-bench.sh [--dll PROTOCOLS_DLL] [--seconds S] [--clients "20 100 200"] [--runs N] [--path /bytes/1000]
#
# Per measurement it prints: requests/s, p50/p99 latency, wrk socket errors, the kernel client's
# SYN retransmissions (nstat TcpExtTCPSynRetrans in the client's namespace), packets the kernel
# dropped on the TUN device because the stack had not read them yet (tun0 TX dropped), and the
# server's CPU time per request (utime + stime of its process over the measurement), and how many
# client sockets are in TIME-WAIT afterwards. Root only.
# Namespaces are made inside and removed on every exit path; every wait is bounded.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dll="$here/../../Cli/bin/Release/net10.0/protocols.dll"
seconds=8
clients="20 100 200"
runs=1
path=/bytes/1000
while [ $# -gt 0 ]; do
  case "$1" in
    --dll) dll=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --path) path=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "churn-bench.sh: needs root (namespaces, TUN)" >&2; exit 2; }
for tool in wrk nginx nstat; do command -v $tool >/dev/null || { echo "churn-bench.sh: $tool is missing" >&2; exit 2; }; done
[ -f "$dll" ] || { echo "churn-bench.sh: $dll not found (dotnet build Cli -c Release)" >&2; exit 2; }

stack_ns=protocols-churn-stack
nginx_ns=protocols-churn-nginx
work=$(mktemp -d)
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill -TERM "$serve_pid" 2>/dev/null
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
  sleep 0.5
  for ns in $stack_ns $nginx_ns; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
tx_dropped() { ip -n "$1" -s -j link show "$2" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])' 2>/dev/null || echo 0; }
syn_retrans() { ip netns exec "$1" nstat -a -z TcpExtTCPSynRetrans 2>/dev/null | awk '/TcpExtTCPSynRetrans/{print $2}'; }

# measure NAME NS URL PID DEVICE CLIENTS
measure() {
  local name=$1 ns=$2 url=$3 pid=$4 dev=$5 c=$6
  local hz; hz=$(getconf CLK_TCK)
  local syn0 drop0 cpu0 out
  syn0=$(syn_retrans "$ns"); drop0=$(tx_dropped "$ns" "$dev"); cpu0=$(cpu_ticks "$pid")
  out=$(ip netns exec "$ns" timeout $((seconds + 30)) wrk -t 2 -c "$c" -d "${seconds}s" --latency -H 'Connection: close' "$url" 2>&1)
  local syn1 drop1 cpu1
  syn1=$(syn_retrans "$ns"); drop1=$(tx_dropped "$ns" "$dev"); cpu1=$(cpu_ticks "$pid")
  local rps p50 p99 total errors
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  p50=$(awk '$1=="50%"{print $2}' <<<"$out")
  p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  total=$(awk '/requests in/{print $1}' <<<"$out")
  errors=$(grep -E "Socket errors|Non-2xx" <<<"$out" | tr -s ' ' | tr '\n' ';')
  local us="?"
  if [ -n "$total" ] && [ "$total" -gt 0 ]; then
    us=$(python3 -c "print(f'{($cpu1 - $cpu0) / $hz * 1e6 / $total:.0f}')")
  fi
  local tw; tw=$(ip netns exec "$ns" ss -Htan state time-wait 2>/dev/null | wc -l)
  printf '%-14s clients %4s  %9s req/s  p50 %8s  p99 %8s  SYN retransmissions %4s  TUN drops %5s  server CPU %5s us/request  TIME-WAIT %6s  %s\n' \
    "$name" "$c" "${rps:-?}" "${p50:-?}" "${p99:-?}" "$((syn1 - syn0))" "$((drop1 - drop0))" "$us" "$tw" "${errors:-no errors}"
}

# The stack: serve --http on a TUN device in its own namespace; wrk in the same namespace.
ip netns add $stack_ns
ip -n $stack_ns link set lo up
# wrk's sockets often close first (the stack's FIN follows the response in a segment of its own),
# so the client keeps TIME-WAIT, one port each for 60 s: 28,232 ephemeral ports then last ~470
# connections a second. On loopback (nginx's run) the kernel reuses them (tcp_tw_reuse=2 means
# loopback only); tcp_tw_reuse=1 gives the client toward the TUN address the same reuse, with
# timestamps (RFC 7323, which the stack sends), so both servers face the same client.
ip netns exec $stack_ns sysctl -q -w net.ipv4.tcp_tw_reuse=1
ip netns exec $stack_ns ip tuntap add dev tun0 mode tun
ip netns exec $stack_ns dotnet "$dll" serve --tun tun0 --address 10.66.0.2/24 --http 8080 >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
for _ in $(seq 200); do grep -q ready "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$work/serve.out" || { echo "serve did not start:"; cat "$work/serve.err"; exit 1; }
ip -n $stack_ns addr add 10.66.0.1/24 dev tun0
ip -n $stack_ns link set tun0 up
sleep 0.5

# nginx, one worker, on loopback in its own namespace (the kernel's own sockets both ends).
ip netns add $nginx_ns
ip -n $nginx_ns link set lo up
chmod 755 "$work"
mkdir -p "$work/bytes"; chmod 755 "$work/bytes"
head -c 1000 /dev/zero >"$work/bytes/1000"; chmod 644 "$work/bytes/1000"
cat >"$work/nginx.conf" <<NGX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server { listen 127.0.0.1:8080 backlog=4096; location /bytes/ { alias $work/bytes/; } }
}
NGX
ip netns exec $nginx_ns nginx -c "$work/nginx.conf"
for _ in $(seq 50); do [ -s "$work/nginx.pid" ] && break; sleep 0.1; done
nginx_worker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)

# Warm-up (JIT tiers, pools) for both.
ip netns exec $stack_ns timeout 30 wrk -t 2 -c 100 -d 3s -H 'Connection: close' "http://10.66.0.2:8080$path" >/dev/null 2>&1
ip netns exec $nginx_ns timeout 30 wrk -t 2 -c 100 -d 1s -H 'Connection: close' "http://127.0.0.1:8080$path" >/dev/null 2>&1

echo "# churn: wrk -t 2 -d ${seconds}s -H 'Connection: close' GET $path; load: $(uptime | sed 's/.*average: //')"
for r in $(seq "$runs"); do
  for c in $clients; do
    measure "protocols/TUN" $stack_ns "http://10.66.0.2:8080$path" "$serve_pid" tun0 "$c"
    measure "nginx/kernel" $nginx_ns "http://127.0.0.1:8080$path" "${nginx_worker:-$(cat "$work/nginx.pid")}" lo "$c"
  done
done
echo "# load after: $(uptime | sed 's/.*average: //')"
kill -TERM "$serve_pid" 2>/dev/null
for _ in $(seq 100); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
serve_pid=""
grep -E "^serve: stopped" "$work/serve.err"
