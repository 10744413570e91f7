using Protocols.Tests.Shared;
using Protocols.Udp.Tests.Sockets;

namespace Protocols.Udp.Tests;

// The UDP simulation scenarios again over IPv6: each class inherits its IPv4 original's tests and
// switches UdpSimulation (and Family) to 2001:db8::/64 in its constructor.

/// <summary><see cref="UdpSocketTests"/> over IPv6 (ICMPv6 errors, all-nodes multicast for broadcast, fragment headers).</summary>
public sealed class UdpSocketTestsOverIpv6 : UdpSocketTests
{
    public UdpSocketTestsOverIpv6() => Family.Ipv6 = true;
}

/// <summary><see cref="UdpDeterminismTests"/> over IPv6.</summary>
public sealed class UdpDeterminismTestsOverIpv6 : UdpDeterminismTests
{
    public UdpDeterminismTestsOverIpv6() => Family.Ipv6 = true;
}
