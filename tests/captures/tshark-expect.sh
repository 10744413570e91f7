#!/usr/bin/env bash
# Writes NAME.tshark.tsv next to every capture in this directory: tshark's view of each frame,
# one row per frame, one column per field of the `protocols decode --json` contract
# (/work/shared/CLI.md). The Cli tests compare `protocols decode --json` against these files.
#
# Preferences (kept identical in the tests' live tshark run, see TsharkArguments in the tests):
# - absolute sequence numbers, no sequence analysis;
# - every checksum verified (ip, tcp, udp; icmp is always verified by tshark);
# - no IP reassembly and no TCP/TLS desegmentation, so each frame is dissected on its own
#   (a first fragment shows its transport header, a later fragment none, and a TLS record
#   header is read where a segment starts with one).
# Port 443 is TLS by default; no other port is decoded as TLS.
#
# Values are tshark's -T fields text: hex for ip.id, eth.type, tcp.flags, ipv6.flow and
# ipv6.fraghdr.ident; 0/1 for ip.flags.* and ipv6.fraghdr.more;
# checksum status 0 bad, 1 good, 2 unverified, 3 not present (UDP checksum 0); the raw option
# bytes for tcp.options.sack_perm (non-empty when present); comma-separated lists when a field
# occurs more than once (e.g. the quoted datagram of an ICMP error).
set -euo pipefail

DIR="$(cd "$(dirname "$0")" && pwd)"
command -v tshark >/dev/null || { echo "tshark-expect.sh: tshark is not installed" >&2; exit 1; }

FIELDS=(
    frame.number
    eth.src eth.dst eth.type
    arp.opcode arp.src.proto_ipv4 arp.dst.proto_ipv4
    ip.version ip.hdr_len ip.len ip.id ip.flags.df ip.flags.mf ip.frag_offset ip.ttl ip.proto
    ip.src ip.dst ip.checksum.status
    tcp.srcport tcp.dstport tcp.seq_raw tcp.ack_raw tcp.hdr_len tcp.flags tcp.window_size_value
    tcp.urgent_pointer tcp.len tcp.checksum.status tcp.options.mss_val tcp.options.wscale.shift
    tcp.options.sack_perm tcp.options.sack_le tcp.options.sack_re
    tcp.options.timestamp.tsval tcp.options.timestamp.tsecr
    udp.srcport udp.dstport udp.length udp.checksum.status
    icmp.type icmp.code icmp.checksum.status icmp.ident icmp.seq
    ipv6.src ipv6.dst ipv6.plen ipv6.nxt ipv6.hlim ipv6.flow
    ipv6.fraghdr.offset ipv6.fraghdr.more ipv6.fraghdr.ident
    icmpv6.type icmpv6.code icmpv6.checksum.status icmpv6.echo.identifier icmpv6.echo.sequence_number
    icmpv6.nd.ns.target_address icmpv6.nd.na.target_address icmpv6.mtu
    tls.record.content_type tls.record.opaque_type tls.handshake.type
    tls.handshake.extensions_server_name
)

PREFS=(
    -o tcp.relative_sequence_numbers:FALSE
    -o tcp.analyze_sequence_numbers:FALSE
    -o ip.check_checksum:TRUE
    -o tcp.check_checksum:TRUE
    -o udp.check_checksum:TRUE
    -o ip.defragment:FALSE
    -o ipv6.defragment:FALSE
    -o tcp.desegment_tcp_streams:FALSE
    -o tls.desegment_ssl_records:FALSE
    -o tls.desegment_ssl_application_data:FALSE
)

args=()
for f in "${FIELDS[@]}"; do
    args+=(-e "$f")
done

shopt -s nullglob
for cap in "$DIR"/*.pcap "$DIR"/*.pcapng; do
    name="$(basename "$cap")"
    out="$DIR/${name%.*}.tshark.tsv"
    tshark -n -r "$cap" "${PREFS[@]}" -T fields -E header=y -E separator=/t -E occurrence=a \
        "${args[@]}" >"$out" 2>/dev/null
    echo "wrote $(basename "$out") ($(($(wc -l <"$out") - 1)) frames)"
done
