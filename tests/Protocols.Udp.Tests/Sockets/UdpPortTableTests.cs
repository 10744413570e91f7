using System.Net.Sockets;
using Protocols.Wire;

namespace Protocols.Udp.Tests.Sockets;

public class UdpPortTableTests
{
    private static readonly Ipv4Address A = Ipv4Address.Parse("10.0.0.2");
    private static readonly Ipv4Address B = Ipv4Address.Parse("10.0.1.2");

    private static UdpPortTable<object> NewTable(int seed = 1) => new(32768, 60999, new Random(seed));

    [Fact]
    public void Allocates_every_ephemeral_port_once_then_fails()
    {
        var table = NewTable();
        var seen = new HashSet<ushort>();
        var owner = new object();
        for (int i = 0; i < 28232; i++)
        {
            Assert.Null(table.TryBind(Ipv4Address.Any, 0, new object(), out ushort port));
            Assert.InRange(port, (ushort)32768, (ushort)60999);
            Assert.True(seen.Add(port), $"port {port} handed out twice");
        }

        Assert.Equal(28232, table.EphemeralPortsInUse);
        Assert.Equal(SocketError.AddressNotAvailable, table.TryBind(Ipv4Address.Any, 0, owner, out _));
        Assert.Equal(SocketError.AddressNotAvailable, table.TryBind(A, 0, owner, out _));

        // Ports outside the range stay available.
        Assert.Null(table.TryBind(Ipv4Address.Any, 5353, owner, out ushort fixedPort));
        Assert.Equal(5353, fixedPort);
    }

    [Fact]
    public void Ephemeral_allocation_skips_explicitly_bound_ports_and_reuses_released_ones()
    {
        var table = NewTable(seed: 7);
        // Take every ephemeral port but one by explicit binds.
        for (int p = 32768; p <= 60999; p++)
        {
            if (p != 44444)
            {
                Assert.Null(table.TryBind(A, (ushort)p, new object(), out _));
            }
        }

        var owner = new object();
        Assert.Null(table.TryBind(Ipv4Address.Any, 0, owner, out ushort port));
        Assert.Equal(44444, port);
        Assert.Equal(SocketError.AddressNotAvailable, table.TryBind(Ipv4Address.Any, 0, new object(), out _));

        Assert.True(table.Unbind(Ipv4Address.Any, 44444, owner));
        Assert.Null(table.TryBind(Ipv4Address.Any, 0, new object(), out port));
        Assert.Equal(44444, port);
    }

    [Fact]
    public void Ephemeral_sequence_depends_on_the_seed_only()
    {
        ushort[] Run(int seed)
        {
            var table = NewTable(seed);
            return Enumerable.Range(0, 20).Select(_ =>
            {
                Assert.Null(table.TryBind(Ipv4Address.Any, 0, new object(), out ushort p));
                return p;
            }).ToArray();
        }

        Assert.Equal(Run(3), Run(3));
        Assert.NotEqual(Run(3), Run(4));
    }

    [Fact]
    public void Binding_conflicts_follow_wildcard_rules()
    {
        var table = NewTable();
        object wildcard = new(), a = new(), b = new();

        Assert.Null(table.TryBind(A, 53, a, out _));
        Assert.Null(table.TryBind(B, 53, b, out _));                          // other address: fine
        Assert.Equal(SocketError.AddressAlreadyInUse, table.TryBind(A, 53, new object(), out _));
        Assert.Equal(SocketError.AddressAlreadyInUse, table.TryBind(Ipv4Address.Any, 53, wildcard, out _));

        Assert.Null(table.TryBind(Ipv4Address.Any, 54, wildcard, out _));
        Assert.Equal(SocketError.AddressAlreadyInUse, table.TryBind(A, 54, new object(), out _));
        Assert.Equal(SocketError.AddressAlreadyInUse, table.TryBind(Ipv4Address.Any, 54, new object(), out _));
        Assert.Equal(3, table.Count);
    }

    [Fact]
    public void Lookup_prefers_the_exact_address_then_the_wildcard()
    {
        var table = NewTable();
        object a = new(), wildcard = new();
        Assert.Null(table.TryBind(A, 53, a, out _));
        Assert.Null(table.TryBind(Ipv4Address.Any, 67, wildcard, out _));

        Assert.Same(a, table.Lookup(A, 53));
        Assert.Null(table.Lookup(B, 53));              // bound to A only
        Assert.Same(wildcard, table.Lookup(B, 67));
        Assert.Same(wildcard, table.Lookup(Ipv4Address.Broadcast, 67));
        Assert.Null(table.Lookup(A, 68));
        Assert.Null(table.LookupWildcard(53));
        Assert.Same(wildcard, table.LookupWildcard(67));
    }

    [Fact]
    public void Unbind_releases_only_the_owners_binding()
    {
        var table = NewTable();
        object a = new(), stranger = new();
        Assert.Null(table.TryBind(A, 53, a, out _));

        Assert.False(table.Unbind(A, 53, stranger));
        Assert.False(table.Unbind(Ipv4Address.Any, 53, a));
        Assert.False(table.Unbind(A, 54, a));
        Assert.True(table.Unbind(A, 53, a));
        Assert.False(table.Unbind(A, 53, a));
        Assert.Equal(0, table.Count);
        Assert.Null(table.Lookup(A, 53));
        Assert.Null(table.TryBind(Ipv4Address.Any, 53, stranger, out _));
    }

    [Fact]
    public void Rejects_an_empty_range()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new UdpPortTable<object>(100, 99, new Random(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UdpPortTable<object>(0, 99, new Random(1)));
    }
}
