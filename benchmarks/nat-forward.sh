#!/usr/bin/env bash
# Measures protocols forward and protocols nat against references in the same run (as root, in
# private namespaces removed on exit):
#   1. one curl download through `protocols forward` vs the same download from `protocols serve
#      --http` over the same TUN device (alternating, RUNS times each);
#   2. `protocols nat` vs the kernel forwarding with nftables masquerade between namespaces of the
#      same shape: iperf3 TCP, iperf3 UDP with 64-byte payloads (packets/s received), curl 20 MiB;
#   3. memory: resident set of `protocols forward` before and while holding 500 idle relayed
#      connections, and of `protocols nat` before and after 20,000 UDP mappings.
# Prints one line per figure and the load (uptime). Background commands are started with
# `ip netns exec` itself (it execs them), so $! is the process to signal. Needs the Release build of Cli/, nginx,
# iperf3, curl, python3, nft.
set -euo pipefail
cd "$(dirname "$0")/.."
P=(dotnet Cli/bin/Release/net10.0/protocols.dll)
SIZE=${SIZE:-104857600}
RUNS=${RUNS:-5}
SECONDS_EACH=${SECONDS_EACH:-5}
TMP=$(mktemp -d /tmp/protocols-bench-XXXX)
NS=(pb-fc pb-fs pb-nc pb-ns pb-kc pb-kr pb-ks)
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null || true; ip netns add "$n"; ip -n "$n" link set lo up; done
x() { local n=$1; shift; ip netns exec "$n" "$@"; }

wait_ready() { # file
  for _ in $(seq 1 300); do grep -q '^ready' "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "not ready: $(cat "$1")" >&2; return 1
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

nginx_conf() { # ns address port root
  cat > "$TMP/nginx-$1.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $TMP/nginx-$1.pid; error_log $TMP/nginx-$1.err warn;
events { worker_connections 4096; }
http { access_log off; sendfile on; client_body_temp_path $TMP/b-$1; proxy_temp_path $TMP/p-$1; fastcgi_temp_path $TMP/f-$1; uwsgi_temp_path $TMP/u-$1; scgi_temp_path $TMP/s-$1;
  types { application/octet-stream bin; } server { listen $2:$3; root $4; } }
EOF
  ip netns exec "$1" nginx -c "$TMP/nginx-$1.conf" -p "$TMP" -e "$TMP/nginx-$1.err" & PIDS+=($!)
  for _ in $(seq 1 100); do x "$1" ss -Hltn "sport = :$3" | grep -q . && return 0; sleep 0.1; done
}

mkdir -p "$TMP/www"
head -c "$SIZE" /dev/urandom > "$TMP/www/big.bin"
head -c 20971520 /dev/urandom > "$TMP/www/20m.bin"
head -c 1000 /dev/zero > "$TMP/www/small.bin"

# ---- 1. forward vs serve over the same TUN ----
x pb-fc ip tuntap add dev ptun0 mode tun
x pb-fc ip addr add 10.66.0.1/24 dev ptun0
x pb-fc ip link set ptun0 up
x pb-fc ip link add pfw0 type veth peer name pfw1 netns pb-fs
x pb-fc ip addr add 10.77.0.1/24 dev pfw0; x pb-fc ip link set pfw0 up
x pb-fs ip addr add 10.77.0.2/24 dev pfw1; x pb-fs ip addr add 10.88.0.2/24 dev pfw1; x pb-fs ip link set pfw1 up
x pb-fc ip route add 10.88.0.0/24 via 10.77.0.2 dev pfw0 table 100
x pb-fc ip rule add oif pfw0 lookup 100
x pb-fc ip route add 10.88.0.0/24 dev ptun0
nginx_conf pb-fs 10.88.0.2 8080 "$TMP/www"
sleep 1

forward_rate() {
  ip netns exec pb-fc "${P[@]}" forward --tun ptun0 --address 10.66.0.2/24 --outbound-interface pfw0 > "$TMP/fw.out" 2>&1 & local pid=$!
  wait_ready "$TMP/fw.out"; sleep 0.5
  x pb-fc curl -s -o /dev/null -w '%{speed_download}' "http://10.88.0.2:8080/big.bin" > "$TMP/rate"
  kill -TERM $pid; wait $pid || true
  cat "$TMP/rate"
}
serve_rate() {
  ip netns exec pb-fc "${P[@]}" serve --tun ptun0 --address 10.66.0.2/24 --http 80 > "$TMP/sv.out" 2>&1 & local pid=$!
  wait_ready "$TMP/sv.out"; sleep 0.5
  x pb-fc curl -s -o /dev/null -w '%{speed_download}' "http://10.66.0.2/bytes/$SIZE" > "$TMP/rate"
  kill -TERM $pid; wait $pid || true
  cat "$TMP/rate"
}
fw=(); sv=()
for i in $(seq 1 "$RUNS"); do fw+=("$(forward_rate)"); sv+=("$(serve_rate)"); done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fwm=$(median "${fw[@]}"); svm=$(median "${sv[@]}")
echo "forward curl $((SIZE >> 20)) MiB: median $(awk "BEGIN{printf \"%.0f\", $fwm*8/1e6}") Mbit/s (runs: ${fw[*]} B/s)"
echo "serve   curl $((SIZE >> 20)) MiB: median $(awk "BEGIN{printf \"%.0f\", $svm*8/1e6}") Mbit/s (runs: ${sv[*]} B/s)"
echo "forward / serve: $(awk "BEGIN{printf \"%.2f\", $fwm/$svm}")"

# Memory per relayed connection: 500 idle connections held open through the forwarder.
ip netns exec pb-fc "${P[@]}" forward --tun ptun0 --address 10.66.0.2/24 --outbound-interface pfw0 > "$TMP/fw.out" 2>&1 & fwpid=$!; PIDS+=($fwpid)
wait_ready "$TMP/fw.out"; sleep 1
x pb-fc curl -s -o /dev/null "http://10.88.0.2:8080/small.bin"; sleep 1
before=$(rss_kb $fwpid)
ip netns exec pb-fc python3 -c "
import socket, time
s=[socket.create_connection(('10.88.0.2',8080),timeout=30) for _ in range(500)]
print('open', flush=True); time.sleep(6)
" > "$TMP/hold.out" & holdpid=$!
touch "$TMP/hold.out"
for _ in $(seq 1 100); do grep -q open "$TMP/hold.out" && break; sleep 0.1; done
sleep 2
after=$(rss_kb $fwpid)
wait $holdpid || true
kill -TERM $fwpid; wait $fwpid || true
echo "forward RSS: $before kB idle, $after kB with 500 relayed connections: $(( (after - before) * 1024 / 500 )) bytes per relayed connection"

if [ -n "${ONLY_FORWARD:-}" ]; then echo "load: $(uptime)"; exit 0; fi

# ---- 2. protocols nat vs kernel masquerade ----
x pb-nc ip tuntap add dev pin0 mode tun
x pb-nc ip addr add 10.0.0.10/24 dev pin0; x pb-nc ip link set pin0 up
x pb-nc ip link add pveth0 type veth peer name pveth1 netns pb-ns
x pb-nc ip link set pveth0 up
x pb-ns ip addr add 203.0.113.2/24 dev pveth1; x pb-ns ip link set pveth1 up
x pb-kc ip link add pk0 type veth peer name pk1 netns pb-kr
x pb-kr ip link add pk2 type veth peer name pk3 netns pb-ks
x pb-kc ip addr add 10.1.0.10/24 dev pk0; x pb-kc ip link set pk0 up; x pb-kc ip route add default via 10.1.0.1
x pb-kr ip addr add 10.1.0.1/24 dev pk1; x pb-kr ip link set pk1 up
x pb-kr ip addr add 203.0.114.1/24 dev pk2; x pb-kr ip link set pk2 up
x pb-ks ip addr add 203.0.114.2/24 dev pk3; x pb-ks ip link set pk3 up
x pb-kr sysctl -qw net.ipv4.ip_forward=1
cat > "$TMP/masq.nft" <<EOF
table ip nat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "pk2" masquerade
  }
}
EOF
x pb-kr nft -f "$TMP/masq.nft"
ip netns exec pb-nc "${P[@]}" nat --inside tun:pin0 --inside-address 10.0.0.1/24 --outside raw:pveth0 --outside-address 203.0.113.1/24 > "$TMP/nat.out" 2> "$TMP/nat.err" & natpid=$!; PIDS+=($natpid)
wait_ready "$TMP/nat.out"
x pb-nc ip route add default via 10.0.0.1 dev pin0
x pb-ns iperf3 -s -B 203.0.113.2 -D -I "$TMP/i1.pid" >/dev/null
x pb-ks iperf3 -s -B 203.0.114.2 -D -I "$TMP/i2.pid" >/dev/null
nginx_conf pb-ns 203.0.113.2 8080 "$TMP/www"
nginx_conf pb-ks 203.0.114.2 8080 "$TMP/www"
sleep 1
iperf_tcp() { x "$1" iperf3 -c "$2" -t "$SECONDS_EACH" -J | python3 -c "import json,sys; print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'])"; }
iperf_udp() { x "$1" iperf3 -c "$2" -u -l 64 -b 0 -t "$SECONDS_EACH" -J | python3 -c "
import json,sys; e=json.load(sys.stdin)['end']['sum']; print(e['packets']*(100-e['lost_percent'])/100/e['seconds'])"; }
curl_time() { x "$1" curl -s -o /dev/null -w '%{time_total}' "http://$2:8080/20m.bin"; }
ours_tcp=$(iperf_tcp pb-nc 203.0.113.2); kern_tcp=$(iperf_tcp pb-kc 203.0.114.2)
ours_udp=$(iperf_udp pb-nc 203.0.113.2); kern_udp=$(iperf_udp pb-kc 203.0.114.2)
ours_curl=$(curl_time pb-nc 203.0.113.2); kern_curl=$(curl_time pb-kc 203.0.114.2)
echo "nat iperf3 TCP: protocols nat $(awk "BEGIN{printf \"%.0f\", $ours_tcp/1e6}") Mbit/s, kernel masquerade $(awk "BEGIN{printf \"%.0f\", $kern_tcp/1e6}") Mbit/s, ratio $(awk "BEGIN{printf \"%.2f\", $ours_tcp/$kern_tcp}")"
echo "nat iperf3 UDP 64 B: protocols nat $(awk "BEGIN{printf \"%.0f\", $ours_udp}") packets/s received, kernel masquerade $(awk "BEGIN{printf \"%.0f\", $kern_udp}") packets/s, ratio $(awk "BEGIN{printf \"%.2f\", $ours_udp/$kern_udp}")"
echo "nat curl 20 MiB: protocols nat ${ours_curl} s, kernel masquerade ${kern_curl} s, rate ratio $(awk "BEGIN{printf \"%.2f\", $kern_curl/$ours_curl}")"

# Memory per mapping: 20,000 UDP flows from distinct source ports.
natproc=$natpid
before=$(rss_kb "$natproc")
x pb-nc python3 -c "
import socket
for i in range(20000):
    s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('10.0.0.10',20000+i)); s.sendto(b'x',('203.0.113.2',9)); s.close()
"
sleep 2
after=$(rss_kb "$natproc")
kill -USR1 $natpid; sleep 1
rows=$(grep -c '^udp ' "$TMP/nat.out" || true)
echo "nat RSS: $before kB before, $after kB after 20000 UDP flows ($rows udp rows): $(( (after - before) * 1024 / (rows > 0 ? rows : 1) )) bytes per mapping"
kill -TERM $natpid; wait $natpid || true
echo "load: $(uptime)"
