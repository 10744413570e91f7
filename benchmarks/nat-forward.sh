#!/usr/bin/env bash
# Measures protocols forward and protocols nat against references in the same run (as root, in
# private namespaces removed on exit):
#   1. one curl download through `protocols forward` vs the same download from `protocols serve
#      --http` over the same TUN device (alternating, RUNS times each);
#   2. `protocols nat` vs the kernel forwarding with nftables masquerade between namespaces of the
#      same shape: iperf3 TCP, iperf3 UDP with 64-byte payloads (packets/s received), curl 20 MiB;
#   3. memory: resident set of `protocols forward` while holding HOLD and then 2 x HOLD idle
#      relayed connections (the slope), and of `protocols nat` before and after 20,000 UDP mappings.
# Prints one line per figure, each with the load average when it was taken, and `uptime` at the
# start and the end. Reproduce the README table with `sudo RUNS=7 benchmarks/nat-forward.sh`
# after `dotnet build Cli -c Release`. Background commands are started with
# `ip netns exec` itself (it execs them), so $! is the process to signal. Needs the Release build of Cli/, nginx,
# iperf3, curl, python3, nft.
set -euo pipefail
cd "$(dirname "$0")/.."
P=(dotnet Cli/bin/Release/net10.0/protocols.dll)
SIZE=${SIZE:-104857600}
RUNS=${RUNS:-5}
SECONDS_EACH=${SECONDS_EACH:-5}
TMP=$(mktemp -d /tmp/protocols-bench-XXXX)
S=$$
FC=pb-fc-$S FS=pb-fs-$S NC=pb-nc-$S NSV=pb-ns-$S KC=pb-kc-$S KR=pb-kr-$S KS=pb-ks-$S
NS=("$FC" "$FS" "$NC" "$NSV" "$KC" "$KR" "$KS")
PIDS=()
load() { echo "load $(cut -d' ' -f1-3 /proc/loadavg)"; }
echo "start: $(uptime)"

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$TMP"/i1.pid "$TMP"/i2.pid; do [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
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
x $FC ip tuntap add dev ptun0 mode tun
x $FC ip addr add 10.66.0.1/24 dev ptun0
x $FC ip link set ptun0 up
x $FC ip link add pfw0 type veth peer name pfw1 netns $FS
x $FC ip addr add 10.77.0.1/24 dev pfw0; x $FC ip link set pfw0 up
x $FS ip addr add 10.77.0.2/24 dev pfw1; x $FS ip addr add 10.88.0.2/24 dev pfw1; x $FS ip link set pfw1 up
x $FC ip route add 10.88.0.0/24 via 10.77.0.2 dev pfw0 table 100
x $FC ip rule add oif pfw0 lookup 100
x $FC ip route add 10.88.0.0/24 dev ptun0
nginx_conf $FS 10.88.0.2 8080 "$TMP/www"
sleep 1

forward_rate() {
  ip netns exec $FC "${P[@]}" forward --tun ptun0 --address 10.66.0.2/24 --outbound-interface pfw0 > "$TMP/fw.out" 2>&1 & local pid=$!
  wait_ready "$TMP/fw.out"; sleep 0.5
  x $FC curl -s -o /dev/null -w '%{speed_download}' "http://10.88.0.2:8080/big.bin" > "$TMP/rate"
  kill -TERM $pid; wait $pid || true
  cat "$TMP/rate"
}
serve_rate() {
  ip netns exec $FC "${P[@]}" serve --tun ptun0 --address 10.66.0.2/24 --http 80 > "$TMP/sv.out" 2>&1 & local pid=$!
  wait_ready "$TMP/sv.out"; sleep 0.5
  x $FC curl -s -o /dev/null -w '%{speed_download}' "http://10.66.0.2/bytes/$SIZE" > "$TMP/rate"
  kill -TERM $pid; wait $pid || true
  cat "$TMP/rate"
}
fw=(); sv=()
for i in $(seq 1 "$RUNS"); do fw+=("$(forward_rate)"); sv+=("$(serve_rate)"); done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fwm=$(median "${fw[@]}"); svm=$(median "${sv[@]}")
echo "forward curl $((SIZE >> 20)) MiB: median $(awk "BEGIN{printf \"%.0f\", $fwm*8/1e6}") Mbit/s (runs: ${fw[*]} B/s)"
echo "serve   curl $((SIZE >> 20)) MiB: median $(awk "BEGIN{printf \"%.0f\", $svm*8/1e6}") Mbit/s (runs: ${sv[*]} B/s)"
echo "forward / serve: $(awk "BEGIN{printf \"%.2f\", $fwm/$svm}") ($(load))"

# Memory per relayed connection: the growth of the resident set from HOLD to 2 x HOLD idle
# connections held open through the forwarder (a slope, so the heap's first growth and the
# runtime's fixed costs do not count).
HOLD=${HOLD:-1000}
ip netns exec $FC "${P[@]}" forward --tun ptun0 --address 10.66.0.2/24 --outbound-interface pfw0 > "$TMP/fw.out" 2>&1 & fwpid=$!; PIDS+=($fwpid)
wait_ready "$TMP/fw.out"; sleep 1
x $FC curl -s -o /dev/null "http://10.88.0.2:8080/small.bin"; sleep 1
idle=$(rss_kb $fwpid)
ip netns exec $FC python3 -c "
import os, socket, time
s=[socket.create_connection(('10.88.0.2',8080),timeout=30) for _ in range($HOLD)]
print('half', flush=True)
for _ in range(300):
    if os.path.exists('$TMP/more'): break
    time.sleep(0.1)
s+=[socket.create_connection(('10.88.0.2',8080),timeout=30) for _ in range($HOLD)]
print('open', flush=True); time.sleep(10)
" > "$TMP/hold.out" & holdpid=$!
touch "$TMP/hold.out"
for _ in $(seq 1 600); do grep -q half "$TMP/hold.out" && break; sleep 0.1; done
sleep 2
half=$(rss_kb $fwpid)
touch "$TMP/more"
for _ in $(seq 1 600); do grep -q open "$TMP/hold.out" && break; sleep 0.1; done
sleep 2
full=$(rss_kb $fwpid)
held=$(grep -c . "$TMP/hold.out" || true)
wait $holdpid || true
kill -TERM $fwpid; wait $fwpid || true
echo "forward RSS: $idle kB idle, $half kB with $HOLD relayed connections, $full kB with $((2 * HOLD)) ($held of 2 steps reached): $(( (full - half) * 1024 / HOLD )) bytes per relayed connection ($(load))"

if [ -n "${ONLY_FORWARD:-}" ]; then echo "end: $(uptime)"; exit 0; fi

# ---- 2. protocols nat vs kernel masquerade ----
x $NC ip tuntap add dev pin0 mode tun
x $NC ip addr add 10.0.0.10/24 dev pin0; x $NC ip link set pin0 up
x $NC ip link add pveth0 type veth peer name pveth1 netns $NSV
x $NC ip link set pveth0 up
x $NSV ip addr add 203.0.113.2/24 dev pveth1; x $NSV ip link set pveth1 up
x $KC ip link add pk0 type veth peer name pk1 netns $KR
x $KR ip link add pk2 type veth peer name pk3 netns $KS
x $KC ip addr add 10.1.0.10/24 dev pk0; x $KC ip link set pk0 up; x $KC ip route add default via 10.1.0.1
x $KR ip addr add 10.1.0.1/24 dev pk1; x $KR ip link set pk1 up
x $KR ip addr add 203.0.114.1/24 dev pk2; x $KR ip link set pk2 up
x $KS ip addr add 203.0.114.2/24 dev pk3; x $KS ip link set pk3 up
x $KR sysctl -qw net.ipv4.ip_forward=1
cat > "$TMP/masq.nft" <<EOF
table ip nat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "pk2" masquerade
  }
}
EOF
x $KR nft -f "$TMP/masq.nft"
ip netns exec $NC "${P[@]}" nat --inside tun:pin0 --inside-address 10.0.0.1/24 --outside raw:pveth0 --outside-address 203.0.113.1/24 > "$TMP/nat.out" 2> "$TMP/nat.err" & natpid=$!; PIDS+=($natpid)
wait_ready "$TMP/nat.out"
x $NC ip route add default via 10.0.0.1 dev pin0
x $NSV iperf3 -s -B 203.0.113.2 -D -I "$TMP/i1.pid" >/dev/null
x $KS iperf3 -s -B 203.0.114.2 -D -I "$TMP/i2.pid" >/dev/null
nginx_conf $NSV 203.0.113.2 8080 "$TMP/www"
nginx_conf $KS 203.0.114.2 8080 "$TMP/www"
sleep 1
iperf_tcp() { x "$1" iperf3 -c "$2" -t "$SECONDS_EACH" -J | python3 -c "import json,sys; print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'])"; }
iperf_udp() { x "$1" iperf3 -c "$2" -u -l 64 -b 0 -t "$SECONDS_EACH" -J | python3 -c "
import json,sys; e=json.load(sys.stdin)['end']['sum']; print(e['packets']*(100-e['lost_percent'])/100/e['seconds'])"; }
curl_time() { x "$1" curl -s -o /dev/null -w '%{time_total}' "http://$2:8080/20m.bin"; }
curl_rate() { x "$1" curl -s -o /dev/null -w '%{speed_download}' "http://$2:8080/20m.bin"; }
# Each figure alternates ours and the kernel's, RUNS times each, and reports the medians.
ot=(); kt=(); ou=(); ku=(); oc=(); kc=()
for i in $(seq 1 "$RUNS"); do ot+=("$(iperf_tcp $NC 203.0.113.2)"); kt+=("$(iperf_tcp $KC 203.0.114.2)"); done
ours_tcp=$(median "${ot[@]}"); kern_tcp=$(median "${kt[@]}")
echo "nat iperf3 TCP ${SECONDS_EACH} s: protocols nat $(awk "BEGIN{printf \"%.0f\", $ours_tcp/1e6}") Mbit/s, kernel masquerade $(awk "BEGIN{printf \"%.0f\", $kern_tcp/1e6}") Mbit/s, ratio $(awk "BEGIN{printf \"%.2f\", $ours_tcp/$kern_tcp}") (medians of $RUNS; $(load))"
for i in $(seq 1 "$RUNS"); do ou+=("$(iperf_udp $NC 203.0.113.2)"); ku+=("$(iperf_udp $KC 203.0.114.2)"); done
ours_udp=$(median "${ou[@]}"); kern_udp=$(median "${ku[@]}")
echo "nat iperf3 UDP 64 B ${SECONDS_EACH} s: protocols nat $(awk "BEGIN{printf \"%.0f\", $ours_udp}") packets/s received, kernel masquerade $(awk "BEGIN{printf \"%.0f\", $kern_udp}") packets/s, ratio $(awk "BEGIN{printf \"%.2f\", $ours_udp/$kern_udp}") (medians of $RUNS; $(load))"
for i in $(seq 1 "$RUNS"); do oc+=("$(curl_rate $NC 203.0.113.2)"); kc+=("$(curl_rate $KC 203.0.114.2)"); done
ours_curl=$(median "${oc[@]}"); kern_curl=$(median "${kc[@]}")
echo "nat curl 20 MiB: protocols nat $(awk "BEGIN{printf \"%.0f\", $ours_curl*8/1e6}") Mbit/s, kernel masquerade $(awk "BEGIN{printf \"%.0f\", $kern_curl*8/1e6}") Mbit/s, ratio $(awk "BEGIN{printf \"%.2f\", $ours_curl/$kern_curl}") (medians of $RUNS; runs ${oc[*]} / ${kc[*]} B/s; $(load))"

# Memory per mapping: 20,000 UDP flows from distinct source ports.
natproc=$natpid
before=$(rss_kb "$natproc")
x $NC python3 -c "
import socket
for i in range(20000):
    s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('10.0.0.10',20000+i)); s.sendto(b'x',('203.0.113.2',9)); s.close()
"
sleep 2
after=$(rss_kb "$natproc")
kill -USR1 $natpid
# The new mappings are the rows of the flood's source ports, counted once the table stops growing.
rows=0
for _ in $(seq 1 40); do
  sleep 0.5
  now=$(grep -cE '^udp 10\.0\.0\.10:(2[0-9]{4}|3[0-9]{4}) ' "$TMP/nat.out" || true)
  [ "$now" -gt 0 ] && [ "$now" -eq "$rows" ] && break
  rows=$now
done
echo "nat RSS: $before kB before, $after kB after 20000 UDP flows ($rows new udp mappings in the table): $(( (after - before) * 1024 / (rows > 0 ? rows : 1) )) bytes per mapping ($(load))"
kill -TERM $natpid; wait $natpid || true
echo "end: $(uptime)"
