#!/usr/bin/env bash
# Regenerates the committed captures in this directory from real Linux traffic.
#
# Everything happens inside network namespaces created here (protocols-cap-<random>-{a,b,c}),
# joined by veth pairs with addresses only inside them and no default routes, so no packet
# leaves the namespaces. Checksum offload, TSO/GSO/GRO are switched off on every veth so the
# captured checksums are the real ones and frames have their on-the-wire size.
# Cleanup (trap EXIT) deletes the namespaces and kills only the pids started here.
#
# Needs root, iproute2, ethtool, tcpdump, dumpcap (tshark), socat, iputils-ping, nftables,
# openssl and python3 with scapy (for the zero-checksum UDP datagrams and the hand-made IPv6
# packets: router advertisement, redirect, extension headers).
#
# Usage: make-captures.sh [all|ipv4|ipv6]   (default all; ipv4 = files 1-7, ipv6 = files 8-12)
#
# Topology:
#   A (10.77.0.1/24, va) <--veth--> (vb, 10.77.0.2/24) B (10.78.0.1/24, vbc) <--veth--> (vcb, 10.78.0.2/24) C
#   A also has a TUN device tun0 (10.79.0.1/24) answered by a small python echo responder (RAW captures).
#   A reaches 10.78.0.0/24 via B only through a route for that /24 (used for ICMP time exceeded).
#   IPv6 (files 8-12): A 2001:db8:77::1/64, B 2001:db8:77::2/64 and 2001:db8:78::1/64 (forwarding),
#   C 2001:db8:78::2/64, routes for the far /64 via B as for IPv4.
#
# Files derived rather than captured (documented here because a tool cannot produce them):
#   raw-ipv4.pcap      = raw-tun.pcap with the link type in the global header (offset 20, 4 bytes,
#                        file byte order) rewritten from 101 (RAW) to 228 (IPV4); the frames are
#                        identical since both link types carry a bare IPv4 packet.
#   udp-bigendian.pcap = udp.pcap rewritten in big-endian byte order (magic a1b2c3d4 stored
#                        big-endian, every header field swapped), as a big-endian host would write it.
set -euo pipefail

OUT="$(cd "$(dirname "$0")" && pwd)"
WHAT="${1:-all}"
case "$WHAT" in
    all | ipv4 | ipv6) ;;
    *) echo "usage: make-captures.sh [all|ipv4|ipv6]" >&2; exit 2 ;;
esac
if [[ $EUID -ne 0 ]]; then
    echo "make-captures.sh: needs root (network namespaces)" >&2
    exit 1
fi
for tool in ip ethtool tcpdump dumpcap socat ping nft openssl python3; do
    command -v "$tool" >/dev/null || { echo "make-captures.sh: missing $tool" >&2; exit 1; }
done

# A python3 that has scapy (Debian's python3-scapy lives under /usr/bin/python3, which may not be
# the first python3 on PATH).
PY=""
for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c "import scapy" 2>/dev/null; then
        PY=$(command -v "$candidate")
        break
    fi
done
[[ -n "$PY" ]] || { echo "make-captures.sh: no python3 with scapy (apt-get install python3-scapy)" >&2; exit 1; }

TAG="protocols-cap-$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
NA="$TAG-a"
NB="$TAG-b"
NC="$TAG-c"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    ip netns del "$NA" 2>/dev/null
    ip netns del "$NB" 2>/dev/null
    ip netns del "$NC" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

A() { ip netns exec "$NA" "$@"; }
B() { ip netns exec "$NB" "$@"; }
C() { ip netns exec "$NC" "$@"; }

# Starts a background command and remembers its pid (the pid of `ip netns exec`, which execs
# the tool, so the pid is the tool's own).
bg() {
    "$@" &
    PIDS+=("$!")
    LAST_PID=$!
}

stop() {
    local pid=$1
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

no_offload() {
    local ns=$1 dev=$2
    ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off >/dev/null 2>&1 ||
        ip netns exec "$ns" ethtool -K "$dev" tx off rx off >/dev/null
}

# ---- topology -----------------------------------------------------------------------------
ip netns add "$NA"
ip netns add "$NB"
ip netns add "$NC"
for ns in "$NA" "$NB" "$NC"; do
    ip netns exec "$ns" ip link set lo up
done
ip link add va netns "$NA" type veth peer name vb netns "$NB"
ip link add vbc netns "$NB" type veth peer name vcb netns "$NC"
A ip addr add 10.77.0.1/24 dev va
B ip addr add 10.77.0.2/24 dev vb
B ip addr add 10.78.0.1/24 dev vbc
C ip addr add 10.78.0.2/24 dev vcb
no_offload "$NA" va
no_offload "$NB" vb
no_offload "$NB" vbc
no_offload "$NC" vcb
A ip link set va up
B ip link set vb up
B ip link set vbc up
C ip link set vcb up
A ip route add 10.78.0.0/24 via 10.77.0.2
C ip route add 10.77.0.0/24 via 10.78.0.1
B sysctl -qw net.ipv4.ip_forward=1
# Wait for the links to leave the "tentative" state.
sleep 1

# capture NAME [tcpdump options...]: starts tcpdump on va in A writing $WORK/NAME.
capture_start() {
    local name=$1
    shift
    bg ip netns exec "$NA" tcpdump -n -U -i va "$@" -w "$WORK/$name"
    CAP_PID=$LAST_PID
    sleep 1.5
}

capture_stop() {
    sleep 1
    stop "$CAP_PID"
}

keep() {
    cp "$WORK/$1" "$OUT/$1"
    echo "wrote $1 ($(stat -c %s "$OUT/$1") bytes)"
}

if [[ $WHAT != ipv6 ]]; then
# ---- 1. tcp-handshake.pcap ------------------------------------------------------------------
# Linux offers MSS, SACK-permitted, timestamps and window scale on every SYN by default.
bg ip netns exec "$NB" socat -T3 TCP-LISTEN:8080,reuseaddr EXEC:/bin/cat
SRV=$LAST_PID
sleep 0.5
capture_start tcp-handshake.pcap
printf 'hello from the client\nsecond line\n' | A socat -t1 - TCP:10.77.0.2:8080 >/dev/null
# A connection to a closed port: the SYN is answered by RST/ACK (RFC 9293 3.10.7.1).
A socat -T1 - TCP:10.77.0.2:9 </dev/null >/dev/null 2>&1 || true
capture_stop
stop "$SRV"
keep tcp-handshake.pcap

# ---- 2. tcp-sack-loss.pcap --------------------------------------------------------------------
# A bulk transfer A -> B with 5% of B's incoming TCP segments dropped so B's duplicate ACKs carry
# SACK blocks. Snaplen 128 keeps the file small (every full-size data frame is truncated by the
# capture length, so its TCP checksum is unverifiable); headers with 40 bytes of options fit.
B nft -f - <<'EOF'
table inet protocols_cap_loss {
    chain prerouting {
        type filter hook prerouting priority -300; policy accept;
        meta l4proto tcp tcp dport 8081 numgen random mod 100 < 5 drop
    }
}
EOF
sack_ok=0
rate=5
for attempt in 1 2 3 4 5 6 7 8; do
    if [[ $attempt -gt 2 ]]; then
        # Three SACK blocks need three holes in one window: raise the drop rate step by step.
        rate=$((attempt * 2))
        B nft flush chain inet protocols_cap_loss prerouting
        B nft add rule inet protocols_cap_loss prerouting meta l4proto tcp tcp dport 8081 numgen random mod 100 "<" $rate drop
    fi
    bg ip netns exec "$NB" socat -u -T5 TCP-LISTEN:8081,reuseaddr OPEN:/dev/null
    SRV=$LAST_PID
    sleep 0.5
    capture_start tcp-sack-loss.pcap -s 128
    head -c 400000 /dev/urandom | A socat -u - TCP:10.77.0.2:8081
    capture_stop
    stop "$SRV"
    blocks=$(tshark -r "$WORK/tcp-sack-loss.pcap" -T fields -e tcp.options.sack.count 2>/dev/null | sort -u | tr '\n' ' ')
    echo "tcp-sack-loss attempt $attempt (drop $rate%): SACK block counts present: $blocks"
    if [[ " $blocks " == *" 1 "* && " $blocks " == *" 2 "* && " $blocks " == *" 3 "* ]]; then
        sack_ok=1
        break
    fi
done
B nft delete table inet protocols_cap_loss
if [[ $sack_ok -ne 1 ]]; then
    echo "warning: tcp-sack-loss.pcap does not have SACK options with 1, 2 and 3 blocks" >&2
fi
keep tcp-sack-loss.pcap

# ---- 3. ip-fragments.pcap ---------------------------------------------------------------------
# Echo requests and a UDP datagram larger than the MTU are fragmented by the sender (and the
# replies by B). A second round at MTU 576.
bg ip netns exec "$NB" socat -u -T5 UDP-RECV:9999 OPEN:/dev/null
SRV=$LAST_PID
sleep 0.5
capture_start ip-fragments.pcap
A ping -n -c 2 -i 0.3 -s 3000 10.77.0.2 >/dev/null
head -c 4000 /dev/urandom | A socat -u -b 8192 - UDP:10.77.0.2:9999
A ip link set va mtu 576
B ip link set vb mtu 576
sleep 0.3
A ping -n -c 1 -s 1200 10.77.0.2 >/dev/null
head -c 1500 /dev/urandom | A socat -u -b 8192 - UDP:10.77.0.2:9999
capture_stop
A ip link set va mtu 1500
B ip link set vb mtu 1500
stop "$SRV"
keep ip-fragments.pcap

# ---- 4. icmp.pcap -----------------------------------------------------------------------------
# ARP (neighbour caches flushed first), echo request/reply, port unreachable quoting a UDP
# datagram, time exceeded from B acting as a router (TTL 1 towards C).
A ip neigh flush dev va
B ip neigh flush dev vb
capture_start icmp.pcap
A ping -n -c 2 -i 0.3 10.77.0.2 >/dev/null
echo "nobody listens here" | A socat -u - UDP:10.77.0.2:9 || true
sleep 0.3
A ping -n -c 1 -t 1 -W 1 10.78.0.2 >/dev/null || true
A ping -n -c 1 -W 1 10.78.0.2 >/dev/null
capture_stop
keep icmp.pcap

# A UDP echo server that ends by itself after the given number of seconds.
cat >"$WORK/udp-echo.py" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(0.2)
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        data, peer = s.recvfrom(65535)
    except socket.timeout:
        continue
    s.sendto(data, peer)
EOF

# ---- 5. udp.pcap ------------------------------------------------------------------------------
# A socat UDP echo server in B; a few exchanges; one datagram sent with checksum 0 (RFC 768:
# "no checksum") by scapy.
bg ip netns exec "$NB" "$PY" "$WORK/udp-echo.py" 7000 8
SRV=$LAST_PID
sleep 0.5
capture_start udp.pcap
for msg in ping "a slightly longer datagram" x; do
    echo "$msg" | A socat -t0.5 - UDP:10.77.0.2:7000 >/dev/null
done
A "$PY" - <<'EOF'
import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, UDP, Raw, send, conf
conf.verb = 0
send(IP(src="10.77.0.1", dst="10.77.0.2", ttl=64) / UDP(sport=40000, dport=7001, chksum=0) / Raw(b"datagram without checksum"))
EOF
capture_stop
stop "$SRV"
keep udp.pcap

# ---- 6. tls-hello.pcap ------------------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=example.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1
bg ip netns exec "$NB" openssl s_server -quiet -accept 443 -cert "$WORK/cert.pem" -key "$WORK/key.pem" -alpn h2,http/1.1 -naccept 1
SRV=$LAST_PID
sleep 1
capture_start tls-hello.pcap
echo Q | A timeout 5 openssl s_client -quiet -connect 10.77.0.2:443 -servername example.test \
    -alpn h2,http/1.1 -verify_quiet >/dev/null 2>&1 || true
capture_stop
stop "$SRV"
keep tls-hello.pcap

# ---- 7a. ping-nano.pcap: nanosecond-resolution pcap --------------------------------------------
capture_start ping-nano.pcap --time-stamp-precision=nano
A ping -n -c 3 -i 0.2 10.77.0.2 >/dev/null
capture_stop
keep ping-nano.pcap

# ---- 7b. raw-tun.pcap: link type RAW (101) from a TUN device --------------------------------------
# A python responder attached to tun0 answers ICMP echo requests (it swaps the addresses, sets
# type 0 and recomputes the ICMP checksum; the IP checksum is unchanged by the swap).
A ip tuntap add dev tun0 mode tun
A ip addr add 10.79.0.1/24 dev tun0
A ip link set tun0 up
cat >"$WORK/tun-echo.py" <<'EOF'
import fcntl, os, struct, select, sys, time
TUNSETIFF = 0x400454ca
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tun0", IFF_TUN | IFF_NO_PI))
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
deadline = time.time() + float(sys.argv[1])
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        continue
    p = bytearray(os.read(fd, 65535))
    if len(p) < 28 or p[0] >> 4 != 4 or p[9] != 1:
        continue
    ihl = (p[0] & 15) * 4
    if p[ihl] != 8:
        continue
    p[12:16], p[16:20] = p[16:20], p[12:16]
    p[ihl] = 0
    p[ihl + 2:ihl + 4] = b"\0\0"
    p[ihl + 2:ihl + 4] = struct.pack("!H", csum(bytes(p[ihl:])))
    os.write(fd, bytes(p))
EOF
bg ip netns exec "$NA" "$PY" "$WORK/tun-echo.py" 8
TUNPID=$LAST_PID
sleep 0.5
# tun0 carries no Ethernet header, so libpcap writes LINKTYPE_RAW (101).
bg ip netns exec "$NA" tcpdump -n -U -i tun0 -w "$WORK/raw-tun.pcap"
CAP_PID=$LAST_PID
sleep 1.5
A ping -n -c 3 -i 0.2 10.79.0.2 >/dev/null
echo "udp into the tunnel" | A socat -u - UDP:10.79.0.2:5000
capture_stop
stop "$TUNPID"
keep raw-tun.pcap

# ---- 7c. raw-ipv4.pcap: link type IPV4 (228), derived from raw-tun.pcap ---------------------------
"$PY" - "$OUT/raw-tun.pcap" "$OUT/raw-ipv4.pcap" <<'EOF'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
magic = data[0:4]
order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
(linktype,) = struct.unpack(order + "I", data[20:24])
assert linktype == 101, linktype
data[20:24] = struct.pack(order + "I", 228)
open(sys.argv[2], "wb").write(data)
EOF
echo "wrote raw-ipv4.pcap (derived from raw-tun.pcap)"

# ---- 7d. udp-bigendian.pcap: the big-endian byte order, derived from udp.pcap --------------------
"$PY" - "$OUT/udp.pcap" "$OUT/udp-bigendian.pcap" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[0:4] == b"\xd4\xc3\xb2\xa1", "expected a little-endian microsecond pcap"
magic, major, minor, zone, sigfigs, snaplen, linktype = struct.unpack("<IHHiIII", data[:24])
out = bytearray(struct.pack(">IHHiIII", magic, major, minor, zone, sigfigs, snaplen, linktype))
pos = 24
while pos + 16 <= len(data):
    sec, frac, incl, orig = struct.unpack("<IIII", data[pos:pos + 16])
    out += struct.pack(">IIII", sec, frac, incl, orig)
    out += data[pos + 16:pos + 16 + incl]
    pos += 16 + incl
open(sys.argv[2], "wb").write(out)
EOF
echo "wrote udp-bigendian.pcap (derived from udp.pcap)"

# ---- 7e. echo-udp.pcapng: pcapng written by dumpcap -------------------------------------------------
bg ip netns exec "$NB" "$PY" "$WORK/udp-echo.py" 7000 8
SRV=$LAST_PID
sleep 0.3
bg ip netns exec "$NA" dumpcap -q -i va -w "$WORK/echo-udp.pcapng"
CAP_PID=$LAST_PID
sleep 2
A ping -n -c 2 -i 0.2 10.77.0.2 >/dev/null
echo "pcapng datagram" | A socat -t0.5 - UDP:10.77.0.2:7000 >/dev/null
capture_stop
stop "$SRV"
keep echo-udp.pcapng

fi

if [[ $WHAT != ipv4 ]]; then
# ---- IPv6 topology ----------------------------------------------------------------------------
A ip -6 addr add 2001:db8:77::1/64 dev va nodad
B ip -6 addr add 2001:db8:77::2/64 dev vb nodad
B ip -6 addr add 2001:db8:78::1/64 dev vbc nodad
C ip -6 addr add 2001:db8:78::2/64 dev vcb nodad
A ip -6 route add 2001:db8:78::/64 via 2001:db8:77::2
C ip -6 route add 2001:db8:77::/64 via 2001:db8:78::1
B sysctl -qw net.ipv6.conf.all.forwarding=1
sleep 1
MAC_A=$(A cat /sys/class/net/va/address)
MAC_B=$(B cat /sys/class/net/vb/address)
LL_A=$(A ip -6 -o addr show dev va scope link | awk '{print $4}' | cut -d/ -f1)
LL_B=$(B ip -6 -o addr show dev vb scope link | awk '{print $4}' | cut -d/ -f1)

# A UDP echo server over IPv6 that ends by itself after the given number of seconds.
cat >"$WORK/udp6-echo.py" <<'PYEOF'
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", int(sys.argv[1])))
s.settimeout(0.2)
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        data, peer = s.recvfrom(65535)
    except socket.timeout:
        continue
    s.sendto(data, peer)
PYEOF

# ---- 8. ipv6-ping.pcap ------------------------------------------------------------------------
# Neighbour caches flushed first: neighbour solicitation and advertisement, then echo and
# `ping -6 -s 3000` fragmented by the sender (Fragment headers) both ways.
A ip -6 neigh flush dev va
B ip -6 neigh flush dev vb
capture_start ipv6-ping.pcap
A ping -6 -n -c 2 -i 0.3 2001:db8:77::2 >/dev/null
A ping -6 -n -c 2 -i 0.3 -s 3000 2001:db8:77::2 >/dev/null
capture_stop
keep ipv6-ping.pcap

# ---- 9. ipv6-ndp.pcap -------------------------------------------------------------------------
# A's link goes down and up: duplicate address detection of its link-local address (NS from ::),
# MLDv2 reports, a router solicitation. B (scapy) advertises a prefix with the source link-layer
# address, MTU, prefix information and RDNSS options; A autoconfigures an address from it (DAD
# again). B then sends A a redirect with a target link-layer address option.
capture_start ipv6-ndp.pcap
A ip link set va down
A ip link set va up
A ip -6 addr add 2001:db8:77::1/64 dev va nodad
A ip -6 route replace 2001:db8:78::/64 via 2001:db8:77::2
sleep 2.5
LL_A=$(A ip -6 -o addr show dev va scope link | awk '{print $4}' | cut -d/ -f1)
MAC_A=$(A cat /sys/class/net/va/address)
B "$PY" - "$LL_B" "$MAC_B" "$LL_A" "$MAC_A" <<'PYEOF'
import logging, sys
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import conf, sendp
from scapy.layers.l2 import Ether
from scapy.layers.inet6 import (IPv6, ICMPv6ND_RA, ICMPv6ND_Redirect, ICMPv6NDOptSrcLLAddr, ICMPv6NDOptDstLLAddr,
                                ICMPv6NDOptMTU, ICMPv6NDOptPrefixInfo, ICMPv6NDOptRDNSS)
conf.verb = 0
ll_b, mac_b, ll_a, mac_a = sys.argv[1:5]
sendp(Ether(src=mac_b, dst="33:33:00:00:00:01") / IPv6(src=ll_b, dst="ff02::1", hlim=255) / ICMPv6ND_RA(chlim=64, routerlifetime=0)
      / ICMPv6NDOptSrcLLAddr(lladdr=mac_b) / ICMPv6NDOptMTU(mtu=1500)
      / ICMPv6NDOptPrefixInfo(prefix="2001:db8:99::", prefixlen=64, L=1, A=1, validlifetime=600, preferredlifetime=300)
      / ICMPv6NDOptRDNSS(dns=["2001:db8:77::53"], lifetime=600), iface="vb")
sendp(Ether(src=mac_b, dst=mac_a) / IPv6(src=ll_b, dst=ll_a, hlim=255) / ICMPv6ND_Redirect(tgt=ll_b, dst="2001:db8:78::2")
      / ICMPv6NDOptDstLLAddr(lladdr=mac_b), iface="vb")
PYEOF
sleep 2
capture_stop
keep ipv6-ndp.pcap

# ---- 10. ipv6-tcp.pcap ------------------------------------------------------------------------
# A TCP connection over IPv6 (SYN with MSS 1440, SACK-permitted, timestamps, window scale), data
# both ways, FIN close; a SYN to a closed port answered by RST/ACK.
bg ip netns exec "$NB" socat -T3 TCP6-LISTEN:8080,reuseaddr EXEC:/bin/cat
SRV=$LAST_PID
sleep 0.5
capture_start ipv6-tcp.pcap
printf 'hello over IPv6\nsecond line\n' | A socat -t1 - 'TCP6:[2001:db8:77::2]:8080' >/dev/null
A socat -T1 - 'TCP6:[2001:db8:77::2]:9' </dev/null >/dev/null 2>&1 || true
capture_stop
stop "$SRV"
keep ipv6-tcp.pcap

# ---- 11. ipv6-udp.pcap ------------------------------------------------------------------------
# UDP echo over IPv6; a datagram to a closed port (port unreachable quoting it); then scapy
# packets: a UDP datagram with checksum 0 (discarded, RFC 8200 8.1), Hop-by-Hop options with
# Router Alert and PadN, Destination Options with an unknown option whose bits are 10 (parameter
# problem code 2), a type 0 Routing header with segments left (parameter problem code 0,
# RFC 5095), an atomic fragment (RFC 6946) and a datagram in two fragments (both echoed).
bg ip netns exec "$NB" "$PY" "$WORK/udp6-echo.py" 7000 10
SRV=$LAST_PID
sleep 0.5
capture_start ipv6-udp.pcap
for msg in ping "a slightly longer datagram"; do
    echo "$msg" | A socat -t0.5 - 'UDP6:[2001:db8:77::2]:7000' >/dev/null
done
echo "nobody listens here" | A socat -u - 'UDP6:[2001:db8:77::2]:9' || true
sleep 0.3
A "$PY" - <<'PYEOF'
import logging, time
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import conf, send, Raw
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, IPv6ExtHdrFragment,
                                RouterAlert, PadN, HBHOptUnknown, fragment6)
conf.verb = 0
a, b = "2001:db8:77::1", "2001:db8:77::2"
send(IPv6(src=a, dst=b) / UDP(sport=40000, dport=7000, chksum=0) / Raw(b"zero checksum over IPv6"))
time.sleep(0.2)
send(IPv6(src=a, dst=b) / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0), PadN(optdata=b"")]) / UDP(sport=40001, dport=7000) / Raw(b"hop-by-hop"))
time.sleep(0.2)
send(IPv6(src=a, dst=b) / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x9e, optdata=b"\0\0\0\0")]) / UDP(sport=40002, dport=7000) / Raw(b"unknown option"))
time.sleep(0.2)
send(IPv6(src=a, dst=b) / IPv6ExtHdrRouting(type=0, segleft=1, addresses=["2001:db8:78::2"]) / UDP(sport=40003, dport=7000) / Raw(b"routing type 0"))
time.sleep(0.2)
send(IPv6(src=a, dst=b) / IPv6ExtHdrFragment(offset=0, m=0, id=0x1234) / UDP(sport=40004, dport=7000) / Raw(b"atomic fragment"))
time.sleep(0.2)
for f in fragment6(IPv6(src=a, dst=b) / IPv6ExtHdrFragment(id=0x5678) / UDP(sport=40005, dport=7000) / Raw(b"x" * 1800), 1280):
    send(f)
PYEOF
sleep 0.5
capture_stop
stop "$SRV"
keep ipv6-udp.pcap

# ---- 12. ipv6-too-big.pcap --------------------------------------------------------------------
# B routes between a 1500-byte link and a 1280-byte one: A's 1448-byte echo request to C draws a
# packet too big (MTU 1280) from B; A's next request is fragmented at the new path MTU. Then hop
# limit 1 draws a time exceeded from B.
B ip link set vbc mtu 1280
C ip link set vcb mtu 1280
capture_start ipv6-too-big.pcap
A ping -6 -n -c 2 -i 0.5 -s 1400 2001:db8:78::2 >/dev/null || true
A ping -6 -n -c 1 -t 1 -W 1 2001:db8:78::2 >/dev/null || true
capture_stop
B ip link set vbc mtu 1500
C ip link set vcb mtu 1500
keep ipv6-too-big.pcap
fi

echo "done"
