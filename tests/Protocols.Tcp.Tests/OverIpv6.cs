using Protocols.Tcp.Tests.SimulationTests;
using Protocols.Tcp.Tests.Sockets;
using Protocols.Tests.Shared;
using Xunit.Abstractions;

namespace Protocols.Tcp.Tests;

// Every TCP simulation scenario again over IPv6: each class below inherits all the tests of its
// IPv4 original and switches the harnesses (TcpStackPair, Family) to 2001:db8::/64 in its
// constructor, which xUnit runs before each test, in the test's execution context.

/// <summary><see cref="TcpAllocationTests"/> over IPv6.</summary>
public sealed class TcpAllocationTestsOverIpv6 : TcpAllocationTests
{
    public TcpAllocationTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="TcpCloseUnderOverloadTests"/> over IPv6.</summary>
public sealed class TcpCloseUnderOverloadTestsOverIpv6 : TcpCloseUnderOverloadTests
{
    public TcpCloseUnderOverloadTestsOverIpv6() => Family.Ipv6 = true;
}

/// <summary><see cref="TcpConnectionTests"/> over IPv6.</summary>
public sealed class TcpConnectionTestsOverIpv6 : TcpConnectionTests
{
    public TcpConnectionTestsOverIpv6() => Family.Ipv6 = true;
}

/// <summary><see cref="TcpHostileInputTests"/> over IPv6.</summary>
public sealed class TcpHostileInputTestsOverIpv6 : TcpHostileInputTests
{
    public TcpHostileInputTestsOverIpv6() => Family.Ipv6 = true;
}

/// <summary><see cref="TcpLayerInputTests"/> over IPv6.</summary>
public sealed class TcpLayerInputTestsOverIpv6 : TcpLayerInputTests
{
    public TcpLayerInputTestsOverIpv6() => Family.Ipv6 = true;
}

/// <summary><see cref="TcpListenerTests"/> over IPv6.</summary>
public sealed class TcpListenerTestsOverIpv6 : TcpListenerTests
{
    public TcpListenerTestsOverIpv6() => Family.Ipv6 = true;
}

/// <summary><see cref="TcpPortTests"/> over IPv6.</summary>
public sealed class TcpPortTestsOverIpv6 : TcpPortTests
{
    public TcpPortTestsOverIpv6() => Family.Ipv6 = true;
}

/// <summary><see cref="TcpScaleTests"/> over IPv6.</summary>
public sealed class TcpScaleTestsOverIpv6 : TcpScaleTests
{
    public TcpScaleTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="TcpStreamTests"/> over IPv6.</summary>
public sealed class TcpStreamTestsOverIpv6 : TcpStreamTests
{
    public TcpStreamTestsOverIpv6() => Family.Ipv6 = true;
}

/// <summary><see cref="TcpTransferAllocationTests"/> over IPv6.</summary>
public sealed class TcpTransferAllocationTestsOverIpv6 : TcpTransferAllocationTests
{
    public TcpTransferAllocationTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="ImpairmentMatrixTests"/> over IPv6 ("mtu 576" at 1280).</summary>
public sealed class ImpairmentMatrixTestsOverIpv6 : ImpairmentMatrixTests
{
    public ImpairmentMatrixTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="SynFloodAndDeterminismTests"/> over IPv6.</summary>
public sealed class SynFloodAndDeterminismTestsOverIpv6 : SynFloodAndDeterminismTests
{
    public SynFloodAndDeterminismTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="Scripted.CloseTests"/> over IPv6.</summary>
public sealed class CloseTestsOverIpv6 : Scripted.CloseTests
{
    public CloseTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="Scripted.ClosedPortTests"/> over IPv6.</summary>
public sealed class ClosedPortTestsOverIpv6 : Scripted.ClosedPortTests
{
    public ClosedPortTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="Scripted.DataTests"/> over IPv6.</summary>
public sealed class DataTestsOverIpv6 : Scripted.DataTests
{
    public DataTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="Scripted.HandshakeTests"/> over IPv6.</summary>
public sealed class HandshakeTestsOverIpv6 : Scripted.HandshakeTests
{
    public HandshakeTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="Scripted.IcmpTests"/> over IPv6 (ICMPv6 errors: packet too big, port and address unreachable).</summary>
public sealed class IcmpTestsOverIpv6 : Scripted.IcmpTests
{
    public IcmpTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="Scripted.ResetTests"/> over IPv6.</summary>
public sealed class ResetTestsOverIpv6 : Scripted.ResetTests
{
    public ResetTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="Scripted.SynCookieTests"/> over IPv6 (the IPv6 MSS table).</summary>
public sealed class SynCookieTestsOverIpv6 : Scripted.SynCookieTests
{
    public SynCookieTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="Scripted.ZeroWindowTests"/> over IPv6.</summary>
public sealed class ZeroWindowTestsOverIpv6 : Scripted.ZeroWindowTests
{
    public ZeroWindowTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="TcpDirectReadTests"/> over IPv6.</summary>
public sealed class TcpDirectReadTestsOverIpv6 : TcpDirectReadTests
{
    public TcpDirectReadTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="Scripted.DirectReadTests"/> over IPv6.</summary>
public sealed class DirectReadTestsOverIpv6 : Scripted.DirectReadTests
{
    public DirectReadTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="Scripted.ReceiveCoalescingTests"/> over IPv6 (hop limit and IPv6 fields in the coalescing key).</summary>
public sealed class ReceiveCoalescingTestsOverIpv6 : Scripted.ReceiveCoalescingTests
{
    public ReceiveCoalescingTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}

/// <summary><see cref="SimulationTests.ReceiveCoalescingSimulationTests"/> over IPv6.</summary>
public sealed class ReceiveCoalescingSimulationTestsOverIpv6 : SimulationTests.ReceiveCoalescingSimulationTests
{
    public ReceiveCoalescingSimulationTestsOverIpv6(ITestOutputHelper output)
        : base(output) => Family.Ipv6 = true;
}
