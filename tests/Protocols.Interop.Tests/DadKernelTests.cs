using Protocols.Ip;
using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>
/// Duplicate address detection (RFC 4862 5.4) against the kernel on a veth pair, the stack's end
/// driven through AF_PACKET: the kernel already holding the stack's address makes the stack give
/// it up, and the stack holding an address makes the kernel's own detection fail. (Over TUN there
/// is no link layer and so no detection, RFC 4862 5.4.)
/// </summary>
public sealed class DadKernelTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [InteropTheory(Tools = ["ping"])]
    [InlineData("veth")]
    [InlineData("veth-plain")]
    public async Task An_address_the_kernel_holds_is_found_duplicate_and_never_used(string medium)
    {
        // The kernel holds 2001:db8:66::2 (assigned without its own detection, so it answers ours).
        await using KernelPeer peer = await KernelPeer.OnVethAsync(
            options: new Ip.Devices.Linux.RawPacketDeviceOptions { Offloads = medium == "veth" },
            ipv6: true,
            kernelIpv6: KernelPeer.StackAddress6);

        Ipv6AddressInfo[] addresses = [.. await peer.Stack.InvokeAsync(s => s.Interfaces[0].Ipv6Addresses)];
        output.WriteLine(string.Join("; ", addresses.Select(a => $"{a.Address}/{a.PrefixLength} {a.State} {a.Origin}")));
        Ipv6AddressInfo global = Assert.Single(addresses, a => a.Address == KernelPeer.StackAddress6);
        Assert.Equal(Ipv6AddressState.Duplicate, global.State);

        // The link-local address (EUI-64 of a different MAC) passed, so NDP still works.
        Ipv6AddressInfo linkLocal = Assert.Single(addresses, a => a.Origin == Ipv6AddressOrigin.LinkLocal);
        Assert.Equal(Ipv6AddressState.Preferred, linkLocal.State);
        StackCountersSnapshot counters = peer.Stack.Counters.Snapshot();
        Assert.Equal(1, counters.Ipv6.DadFailures);

        // RFC 4862 5.4.5: the duplicate is never used, but the interface is not disabled: the
        // kernel still reaches the stack's link-local address (neighbour discovery both ways).
        ToolResult ping = peer.Exec(Limit, "ping", "-n", "-c", "3", "-i", "0.2", "-w", "10", $"{linkLocal.Address}%pveth1");
        Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping));
        Assert.Equal(Ipv6AddressState.Duplicate, (await peer.Stack.InvokeAsync(s => s.Interfaces[0].Ipv6Addresses)).Single(a => a.Address == KernelPeer.StackAddress6).State);
    }

    [InteropTheory(Tools = ["ping"])]
    [InlineData("veth")]
    [InlineData("veth-plain")]
    public async Task The_kernel_finds_an_address_the_stack_holds_duplicate(string medium)
    {
        await using KernelPeer peer = await KernelPeer.OnVethAsync(
            options: new Ip.Devices.Linux.RawPacketDeviceOptions { Offloads = medium == "veth" },
            ipv6: true);
        Assert.Equal(Ipv6AddressState.Preferred, (await peer.Stack.InvokeAsync(s => s.Interfaces[0].Ipv6Addresses)).Single(a => a.Address == KernelPeer.StackAddress6).State);

        // The kernel now adds the stack's address with its own detection (RFC 4862 5.4.3: the stack
        // defends it with an advertisement to all nodes). Five probes a second apart, not one, so a
        // loop slowed down by a loaded machine still answers within the kernel's window.
        ToolResult transmits = peer.Router.Exec(Limit, "sysctl", "-qw", "net.ipv6.conf.pveth1.dad_transmits=5");
        Assert.True(transmits.ExitCode == 0, TestNamespace.Describe(transmits));
        ToolResult add = peer.Router.Exec(Limit, "ip", "-6", "addr", "add", $"{KernelPeer.StackAddress6}/64", "dev", "pveth1");
        Assert.True(add.ExitCode == 0, TestNamespace.Describe(add));
        string state = string.Empty;
        var deadline = DateTime.UtcNow + Limit;
        while (DateTime.UtcNow < deadline)
        {
            state = peer.Router.Exec(Limit, "ip", "-6", "addr", "show", "dev", "pveth1", "to", $"{KernelPeer.StackAddress6}/128").Output;
            if (!state.Contains("tentative", StringComparison.Ordinal) || state.Contains("dadfailed", StringComparison.Ordinal))
            {
                break;
            }

            await Task.Delay(100);
        }

        StackCountersSnapshot counters = peer.Stack.Counters.Snapshot();
        output.WriteLine($"{state}\nstack: NDP received {counters.Ipv6.NdpReceived}, advertisements sent {counters.Ipv6.NeighborAdvertisementsSent}");
        Assert.Contains("dadfailed", state, StringComparison.Ordinal);

        // The stack keeps its address (the kernel's probe is no reason to give it up, RFC 4862
        // 5.4.3) and, once the kernel drops its failed copy, still answers on it.
        Assert.Equal(Ipv6AddressState.Preferred, (await peer.Stack.InvokeAsync(s => s.Interfaces[0].Ipv6Addresses)).Single(a => a.Address == KernelPeer.StackAddress6).State);
        Assert.Equal(0, peer.Stack.Counters.Snapshot().Ipv6.DadFailures);
        ToolResult delete = peer.Router.Exec(Limit, "ip", "-6", "addr", "del", $"{KernelPeer.StackAddress6}/64", "dev", "pveth1");
        Assert.True(delete.ExitCode == 0, TestNamespace.Describe(delete));
        ToolResult ping = peer.Exec(Limit, "ping", "-n", "-c", "3", "-i", "0.2", "-w", "10", KernelPeer.StackAddress6.ToString());
        Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping));
    }
}
