using Protocols.Fuzz.Targets;

namespace Protocols.Fuzz;

/// <summary>Every fuzz target by name, with what its input is.</summary>
public static class FuzzTargets
{
    /// <summary>The targets in the order <c>fuzz/run.sh all</c> runs them.</summary>
    public static IReadOnlyList<(string Name, string Input, FuzzTarget Run)> All { get; } =
    [
        ("ethernet", "an Ethernet II frame", LinkTargets.Ethernet),
        ("arp", "an ARP packet", LinkTargets.Arp),
        ("ipv4", "an IPv4 datagram (also re-fragmented and reassembled)", IpTargets.Ipv4),
        ("ipv4-options", "an IPv4 options region", OptionTargets.Ipv4Options),
        ("icmp", "an ICMPv4 message, with the quoted datagram of errors", IpTargets.Icmp),
        ("ipv6", "an IPv6 packet, its extension chain, extension headers and options", Ipv6Targets.Ipv6),
        ("icmpv6", "an ICMPv6 message: errors with the quoted packet, NDP with its options", Ipv6Targets.Icmpv6),
        ("udp", "a UDP datagram", TransportTargets.Udp),
        ("tcp", "a TCP segment (header, options, the input path's parse)", TransportTargets.Tcp),
        ("tcp-options", "a TCP options region", OptionTargets.TcpOptions),
        ("tls-records", "a TLS byte stream: records, handshake messages, hellos, the record tracer", TlsTargets.Records),
        ("tls-clienthello", "the first bytes of a TLS connection, as the ClientHello peek sees them", TlsTargets.ClientHelloPeek),
        ("addresses", "address text: IPv4, IPv6, MAC", AddressTargets.Addresses),
        ("pcap", "a pcap file", CaptureTargets.Pcap),
        ("pcapng", "a pcapng file", CaptureTargets.PcapNg),
        ("ipv4-reassembly", "a script of IPv4 fragments and clock steps", ReassemblyTarget.Run),
        ("tcp-engine", "a script of peer segments, application calls and timers against one connection", TcpEngineTarget.Run),
        ("stack", "a script of packets (TCP, UDP, ICMP errors, raw IPv4) and clock steps into a whole stack with TCP and UDP echo servers", StackTarget.Run),
    ];

    /// <summary>The target called <paramref name="name"/>, or null.</summary>
    public static FuzzTarget? Find(string name)
    {
        foreach ((string n, _, FuzzTarget run) in All)
        {
            if (n == name)
            {
                return run;
            }
        }

        return null;
    }
}
