#!/usr/bin/env bash
# Lossy transfers through the user-space stack next to the kernel's own TCP, in one run.
#
#   sudo scripts/loss-vs-kernel.sh [RUNS] [MB] [LOSSES]      (defaults: 5 runs, 20 MB, "1 3")
#   sudo CC=bbr scripts/loss-vs-kernel.sh ...                 (the stack's congestion controller,
#                                                              `serve --cc` and `get --cc`; default cubic)
#   sudo DIRS=receives scripts/loss-vs-kernel.sh ...          (only the stack-receives pair, or DIRS=sends;
#                                                              default both)
#
# Topology (TEST-NETWORK.md rules: private namespaces, removed on every exit path):
#
#   F (10.77.0.2: curl, nginx) --veth-- R (router: nftables drops LOSS% of the TCP it forwards,
#                                          each direction, in its forward chain)
#                                        |-- TUN ltun0 10.66.0.1 -- protocols serve --http (10.66.0.2)
#                                        |-- TUN ltun1 10.67.0.1 -- protocols get       (10.67.0.2)
#                                        |-- veth 10.88.0.1 -- K (10.88.0.2: the kernel in the stack's place)
#
# Every veth has TSO/GSO/GRO off, so a dropped packet is one segment for both TCPs.
# Four transfers of MB megabytes, RUNS times each, at 0% (clean) and at every loss rate:
#   stack sends:   curl in F downloads /bytes/N from `protocols serve --http` (whatever serves HTTP)
#   kernel ref:    curl in F downloads the same size from nginx in K (kernel to kernel)
#   stack receives: `protocols get` downloads from nginx in F (the kernel sends, the stack receives;
#                   chosen over curl POST /echo, which would mix both directions in one transfer)
#   kernel ref:    curl in K downloads from nginx in F
# Each run goes through every loss rate and every transfer in turn (the loss rule is swapped between
# them), so the clean and lossy samples see the same load.
# It prints the medians, each lossy/clean ratio, and the targets: the stack's lossy median within
# 2x its clean median, and its lossy/clean ratio no worse than the kernel's in the same run.
# Where a kernel sends (nginx), it also prints that sender's retransmission timeouts and tail loss
# probes per transfer (nstat TcpExtTCPTimeouts, TcpExtTCPLossProbes in the sender's namespace): a
# slow transfer with no timeout did not wait on the sender's RTO.
set -euo pipefail

RUNS=${1:-5}
MB=${2:-20}
LOSSES=${3:-"1 3"}
CC=${CC:-cubic}
case "$CC" in cubic|newreno|bbr) ;; *) echo "loss-vs-kernel: CC must be cubic, newreno or bbr, not '$CC'" >&2; exit 2;; esac
DIRS=${DIRS:-"sends receives"}
KINDS=()
for dir in $DIRS; do
  case "$dir" in sends|receives) KINDS+=("stack_$dir" "kernel_$dir");; *) echo "loss-vs-kernel: DIRS lists sends and/or receives, not '$dir'" >&2; exit 2;; esac
done
[ ${#KINDS[@]} -gt 0 ] || { echo "loss-vs-kernel: DIRS is empty" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BYTES=$((MB * 1000 * 1000))
ID=$$
R=lvk-r-$ID F=lvk-f-$ID K=lvk-k-$ID
WORK=$(mktemp -d /tmp/loss-vs-kernel.XXXXXX)
PIDS=()

[ "$(id -u)" = 0 ] || { echo "loss-vs-kernel: needs root (namespaces, TUN, nftables)" >&2; exit 2; }
for tool in ip nft curl nginx ethtool dotnet; do
  command -v "$tool" >/dev/null || { echo "loss-vs-kernel: $tool is missing (apt-get install -y iproute2 nftables curl nginx ethtool)" >&2; exit 2; }
done

DLL=${DLL:-$ROOT/Cli/bin/Release/net10.0/protocols.dll}   # DLL=...: a build copied aside, so a rebuild cannot change it mid-run
if [ ! -f "$DLL" ]; then
  echo "loss-vs-kernel: building Cli (Release)" >&2
  dotnet build "$ROOT/Cli" -c Release -v q >/dev/null
fi
PROTOCOLS=(dotnet "$DLL")

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -9 "$pid" 2>/dev/null || true; done
  for ns in "$R" "$F" "$K"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# --- namespaces, links, routes
for ns in "$R" "$F" "$K"; do ip netns add "$ns"; nsx "$ns" ip link set lo up; done
ip -n "$R" link add lvk-rf type veth peer name lvk-fr netns "$F"   # made inside the namespaces: nothing on the host
ip -n "$R" link add lvk-rk type veth peer name lvk-kr netns "$K"
nsx "$R" ip addr add 10.77.0.1/24 dev lvk-rf
nsx "$R" ip addr add 10.88.0.1/24 dev lvk-rk
nsx "$F" ip addr add 10.77.0.2/24 dev lvk-fr
nsx "$K" ip addr add 10.88.0.2/24 dev lvk-kr
for pair in "$R lvk-rf" "$R lvk-rk" "$F lvk-fr" "$K lvk-kr"; do
  set -- $pair
  nsx "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
  nsx "$1" ip link set "$2" up
done
nsx "$F" ip route add 10.66.0.0/24 via 10.77.0.1
nsx "$F" ip route add 10.67.0.0/24 via 10.77.0.1
nsx "$F" ip route add 10.88.0.0/24 via 10.77.0.1
nsx "$K" ip route add default via 10.88.0.1
nsx "$R" sysctl -qw net.ipv4.ip_forward=1
for tun in ltun0 ltun1; do nsx "$R" ip tuntap add dev "$tun" mode tun; done
nsx "$R" ip addr add 10.66.0.1/24 dev ltun0
nsx "$R" ip addr add 10.67.0.1/24 dev ltun1
nsx "$R" ip link set ltun0 up
nsx "$R" ip link set ltun1 up

# --- payloads and servers
mkdir -p "$WORK/www" "$WORK/nginx"
head -c "$BYTES" /dev/urandom > "$WORK/www/data.bin"
cat > "$WORK/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  types { application/octet-stream bin; }
  server { listen 0.0.0.0:8080; root $WORK/www; }
}
EOF
start_nginx() { # namespace; `ip netns exec` execs nginx, so $! is nginx's own pid
  ip netns exec "$1" nginx -c "$WORK/nginx.conf" -p "$WORK/nginx" -e "$WORK/nginx/error.log" </dev/null >/dev/null 2>&1 &
  PIDS+=($!)
}
start_nginx "$F"
start_nginx "$K"

if [[ " $DIRS " == *" sends "* ]]; then   # serve is only needed when the stack sends
  ip netns exec "$R" "${PROTOCOLS[@]}" serve --tun ltun0 --address 10.66.0.2/24 --gateway 10.66.0.1 --http 80 --cc "$CC" </dev/null > "$WORK/serve.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 300); do grep -qx ready "$WORK/serve.log" && break; sleep 0.1; done
  grep -qx ready "$WORK/serve.log" || { echo "loss-vs-kernel: serve did not get ready:" >&2; cat "$WORK/serve.log" >&2; exit 1; }
fi
for _ in $(seq 100); do
  nsx "$F" curl -s --max-time 2 -o /dev/null http://10.77.0.2:8080/data.bin && nsx "$F" curl -s --max-time 2 -o /dev/null http://10.88.0.2:8080/data.bin && break
  sleep 0.1
done

# --- loss rules in the router's forward chain
set_loss() { # percent
  nsx "$R" nft delete table inet lvk_loss 2>/dev/null || true
  [ "$1" = 0 ] && return 0
  nsx "$R" nft -f - <<EOF
table inet lvk_loss {
  chain forward {
    type filter hook forward priority -300; policy accept;
    iifname "lvk-rf" meta l4proto tcp tcp flags & syn == syn numgen random mod 100 < $1 counter drop comment "handshake"
    oifname "lvk-rf" meta l4proto tcp tcp flags & syn == syn numgen random mod 100 < $1 counter drop comment "handshake"
    iifname "lvk-rf" meta l4proto tcp tcp flags & syn == 0 numgen random mod 100 < $1 counter drop
    oifname "lvk-rf" meta l4proto tcp tcp flags & syn == 0 numgen random mod 100 < $1 counter drop
  }
}
EOF
}

# --- one transfer each; prints seconds, or "fail"
stack_sends()    { nsx "$F" curl -s --max-time 300 -o /dev/null -w '%{time_total}' "http://10.66.0.2/bytes/$BYTES" || echo fail; }
kernel_sends()   { nsx "$F" curl -s --max-time 300 -o /dev/null -w '%{time_total}' "http://10.88.0.2:8080/data.bin" || echo fail; }
stack_receives() {
  local line
  nsx "$R" timeout 330 "${PROTOCOLS[@]}" get http://10.77.0.2:8080/data.bin --tun ltun1 --address 10.67.0.2/24 --gateway 10.67.0.1 --timeout 300 --cc "$CC" -o "$WORK/got.bin" </dev/null > "$WORK/get.log" 2>&1 || true
  line=$(grep -E '^get: 2[0-9][0-9] ' "$WORK/get.log" | grep -oE "$BYTES bytes in [0-9.]+ s" | awk '{print $4}' || true)
  if [ -n "$line" ] && ! cmp -s "$WORK/got.bin" "$WORK/www/data.bin"; then line=""; echo "loss-vs-kernel: get delivered different bytes" >&2; fi
  [ -n "$line" ] || echo "loss-vs-kernel: get failed: $(tail -n 2 "$WORK/get.log" | tr '\n' ' ')" >&2
  rm -f "$WORK/got.bin"
  echo "${line:-fail}"
}
kernel_receives() { nsx "$K" curl -s --max-time 300 -o /dev/null -w '%{time_total}' "http://10.77.0.2:8080/data.bin" || echo fail; }

median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# The kernel sender's own count of retransmission timeouts and tail loss probes over one transfer
# (nstat in the sender's namespace; the stack's sends have no kernel sender). Counted from just
# before to just after the transfer, so a timeout of an earlier connection's last retransmission
# (a FIN the exited `get` no longer answers) can land in the next transfer's count.
sender_ns() { case "$1" in stack_receives|kernel_receives) echo "$F";; kernel_sends) echo "$K";; *) echo "";; esac; }
sender_counts() { # namespace -> "timeouts probes"
  nsx "$1" nstat -az TcpExtTCPTimeouts TcpExtTCPLossProbes 2>/dev/null | awk '$1 == "TcpExtTCPTimeouts" {t=$2} $1 == "TcpExtTCPLossProbes" {p=$2} END {print t+0, p+0}'
}

# SYNs and SYN-ACKs the loss rule dropped so far: each costs the transfer an initial RTO (1 s, RFC
# 6298 2.1, the same for both stacks), which no loss recovery can shorten.
handshake_drops() {
  { nsx "$R" nft list table inet lvk_loss 2>/dev/null || true; } | awk '/handshake/ { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'
}

declare -A RESULT RTOS TLPS SYNS
echo "loss-vs-kernel: $RUNS runs of $MB MB each, losses: 0 $LOSSES % each direction (nftables forward chain), stack congestion control: $CC"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for loss in 0 $LOSSES; do
  for kind in "${KINDS[@]}"; do RESULT[$kind,$loss]=""; RTOS[$kind,$loss]=""; TLPS[$kind,$loss]=""; SYNS[$kind,$loss]=""; done
done
# Interleaved, loss rates too: each run does every loss rate and every kind in turn, so a change of
# the machine's load during the script falls on clean and lossy transfers alike.
for run in $(seq "$RUNS"); do
  for loss in 0 $LOSSES; do
    set_loss "$loss"
    for kind in "${KINDS[@]}"; do
      ns=$(sender_ns "$kind")
      [ -z "$ns" ] || read -r rto0 tlp0 < <(sender_counts "$ns")
      syn0=$(handshake_drops)
      t=$($kind)
      RESULT[$kind,$loss]+="$t "
      SYNS[$kind,$loss]+="$(($(handshake_drops) - syn0)) "
      if [ -n "$ns" ]; then
        read -r rto1 tlp1 < <(sender_counts "$ns")
        RTOS[$kind,$loss]+="$((rto1 - rto0)) "
        TLPS[$kind,$loss]+="$((tlp1 - tlp0)) "
      fi
    done
  done
done
for loss in 0 $LOSSES; do
  line="  $loss%:"
  for kind in "${KINDS[@]}"; do
    line+=" ${kind/_/ } [${RESULT[$kind,$loss]% }] (handshake drops [${SYNS[$kind,$loss]% }])"
    [ -z "$(sender_ns "$kind")" ] || line+=" (kernel sender's RTOs [${RTOS[$kind,$loss]% }] TLPs [${TLPS[$kind,$loss]% }])"
  done
  echo "$line"
done
set_loss 0

echo
declare -A TITLE=([stack_sends]="stack sends (curl<-serve)" [kernel_sends]="kernel sends (curl<-nginx)"
                  [stack_receives]="stack receives (get<-nginx)" [kernel_receives]="kernel receives (curl<-nginx)")
header=$(printf '%-6s' loss)
for kind in "${KINDS[@]}"; do header+=$(printf ' | %-28s' "${TITLE[$kind]}"); done
echo "$header"
declare -A MED
for loss in 0 $LOSSES; do
  row=""
  for kind in "${KINDS[@]}"; do
    m=$(echo "${RESULT[$kind,$loss]}" | tr ' ' '\n' | { grep -v fail || true; } | tr '\n' ' ' | median)
    fails=$(echo "${RESULT[$kind,$loss]}" | tr ' ' '\n' | { grep -c fail || true; })
    MED[$kind,$loss]=$m
    ratio=$(awk -v a="$m" -v b="${MED[$kind,0]}" 'BEGIN { if (b > 0 && a == a+0) printf "%.2fx clean", a/b; else print "" }')
    row+=$(printf ' | %6s s %-12s%s' "$m" "$ratio" "$([ "$fails" -gt 0 ] && echo " $fails failed")")
  done
  printf '%-6s%s\n' "$loss%" "$row"
done

echo
for loss in $LOSSES; do
  for dir in $DIRS; do
    s=${MED[stack_$dir,$loss]} s0=${MED[stack_$dir,0]} k=${MED[kernel_$dir,$loss]} k0=${MED[kernel_$dir,0]}
    awk -v s="$s" -v s0="$s0" -v k="$k" -v k0="$k0" -v loss="$loss" -v dir="$dir" 'BEGIN {
      if (s0 + 0 <= 0 || k0 + 0 <= 0 || s + 0 <= 0 || k + 0 <= 0) { printf "%s%% stack %s: no figure (transfers failed)\n", loss, dir; exit }
      rs = s / s0; rk = k / k0;
      printf "%s%% stack %s: lossy/clean %.2f (target <= 2: %s); kernel lossy/clean %.2f (target: stack <= kernel: %s)\n",
        loss, dir, rs, (rs <= 2 ? "met" : "NOT met"), rk, (rs <= rk ? "met" : "NOT met") }'
  done
done
if [[ " $DIRS " == *" receives "* ]]; then
  for loss in $LOSSES; do
    sum() { echo "$1" | tr ' ' '\n' | awk '{s += $1} END {print s + 0}'; }
    printf '%s%% kernel sender (nginx) over %d transfers of %d MB: %d RTOs, %d TLPs to the stack; %d RTOs, %d TLPs to the kernel\n' \
      "$loss" "$RUNS" "$MB" "$(sum "${RTOS[stack_receives,$loss]}")" "$(sum "${TLPS[stack_receives,$loss]}")" \
      "$(sum "${RTOS[kernel_receives,$loss]}")" "$(sum "${TLPS[kernel_receives,$loss]}")"
  done
fi
# The same medians without the transfers whose handshake lost a packet (information beside the
# targets, which count every transfer): what loss recovery alone costs.
complete_handshakes() { # kind loss -> the times of its transfers with no handshake drop
  paste -d' ' <(echo "${RESULT[$1,$2]}" | tr ' ' '\n' | { grep -v '^$' || true; }) \
              <(echo "${SYNS[$1,$2]}" | tr ' ' '\n' | { grep -v '^$' || true; }) |
    awk '$2 == 0 && $1 != "fail" {print $1}' | tr '\n' ' '
}
for loss in $LOSSES; do
  for dir in $DIRS; do
    line=""
    for who in stack kernel; do
      kept=$(complete_handshakes "${who}_$dir" "$loss")
      n=$(echo "$kept" | wc -w)
      m=$(echo "$kept" | median)
      line+=$(awk -v m="$m" -v c="${MED[${who}_$dir,0]}" -v n="$n" -v who="$who" 'BEGIN {
        if (n > 0 && c > 0) printf " %s %.2fx clean (%d transfers);", who, m / c, n; else printf " %s: none;", who }')
    done
    echo "$loss% $dir without handshake drops:${line%;}"
  done
done
