using Protocols.Wire;

namespace Protocols.Tests.Shared;

/// <summary>
/// The address family the simulation harnesses (TcpStackPair, ScriptedBed, UdpSimulation,
/// RealTimeStackPair) run on, per test: IPv4 unless a test class's IPv6 twin (the OverIpv6.cs files)
/// switched it on in its constructor. An async-local
/// value, so classes running in parallel do not see each other's choice.
/// </summary>
internal static class Family
{
    private static readonly AsyncLocal<bool> s_ipv6 = new();

    /// <summary>True when the current test runs over IPv6.</summary>
    public static bool Ipv6
    {
        get => s_ipv6.Value;
        set => s_ipv6.Value = value;
    }

    /// <summary>Host <paramref name="number"/> of the test subnet: 10.0.0.N/24, or 2001:db8::N/64.</summary>
    public static IpAddress Host(int number) =>
        Ipv6 ? Ipv6Address.FromUInt128(new UInt128(0x2001_0db8_0000_0000, (ulong)number)) : Ipv4Address.Create(10, 0, 0, (byte)number);

    /// <summary>The prefix length of the test subnet.</summary>
    public static int PrefixLength => Ipv6 ? 64 : 24;

    /// <summary>IP and TCP header bytes in front of a segment's payload: 40, or 60 over IPv6.</summary>
    public static int Headers => Ipv6 ? 60 : 40;

    /// <summary>The MSS a 1500-byte link gives: 1460, or 1440 over IPv6.</summary>
    public static ushort Mss => (ushort)(1500 - Headers);

    /// <summary>The MSS assumed when a SYN carries none: 536 (RFC 9293 3.7.1), or 1220 over IPv6 (RFC 8200 8.3).</summary>
    public static int DefaultMss => Ipv6 ? 1220 : 536;

    /// <summary>The lowest path MTU an ICMP error may set: 552 (Linux's min_pmtu), or 1280 over IPv6 (RFC 8200 5, where lower reports are raised to it).</summary>
    public static int MinPathMtu => Ipv6 ? 1280 : 552;

    /// <summary>The smallest MTU the family's links have: 576 for these IPv4 tests (RFC 791's reassembly minimum), 1280 for IPv6 (RFC 8200 5).</summary>
    public static int SmallMtu => Ipv6 ? 1280 : 576;
}
