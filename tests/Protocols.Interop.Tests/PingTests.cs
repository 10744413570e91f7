using System.Globalization;
using System.Text.RegularExpressions;
using Protocols.Ip;
using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>The kernel's <c>ping</c> (and <c>ping -6</c>) against the stack, over TUN and over a veth pair with the raw device.</summary>
public sealed partial class PingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Media => KernelPeer.Media;

    /// <summary>Every medium over IPv4; over IPv6 TUN and veth with offloads and veth without (the device finishes the kernel's partial checksums itself).</summary>
    public static TheoryData<string, string> MediaAndFamilies
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string medium in KernelPeer.Media)
            {
                data.Add(medium, "v4");
                if (medium is "tun" or "veth" or "veth-plain")
                {
                    data.Add(medium, "v6");
                }
            }

            return data;
        }
    }

    [InteropTheory(Tools = ["ping"])]
    [MemberData(nameof(MediaAndFamilies))]
    public async Task Small_pings_are_all_answered(string medium, string family)
    {
        await using KernelPeer peer = await Open(medium, ipv6: KernelPeer.IsIpv6(family));
        ToolResult ping = peer.Exec(Limit, "ping", "-n", "-c", "5", "-i", "0.2", "-w", "20", peer.StackIp.ToString());

        Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping));
        AssertAllAnswered(ping, 5);
        Assert.Contains("ttl=64", ping.Output, StringComparison.Ordinal);
        Assert.True(EchoReplies(peer) >= 5);
    }

    [InteropTheory(Tools = ["ping"])]
    [MemberData(nameof(MediaAndFamilies))]
    public async Task Ping_of_3000_bytes_needs_fragmentation_both_ways(string medium, string family)
    {
        await using KernelPeer peer = await Open(medium, ipv6: KernelPeer.IsIpv6(family));
        ToolResult ping = peer.Exec(Limit, "ping", "-n", "-c", "3", "-i", "0.2", "-w", "20", "-s", "3000", peer.StackIp.ToString());

        Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping));
        AssertAllAnswered(ping, 3);
        Assert.Contains("3008 bytes from", ping.Output, StringComparison.Ordinal);
        StackCountersSnapshot all = peer.Stack.Counters.Snapshot();
        (long received, long sent, long reassembled) = peer.Ipv6
            ? (all.Ipv6.FragmentsReceived, all.Ipv6.FragmentsSent, all.Ipv6.Reassembled)
            : (all.FragmentsReceived, all.FragmentsSent, all.Reassembled);
        Assert.True(reassembled >= 3, all.ToString()); // 3028-byte (3048 over IPv6) requests arrive in 3 fragments each
        Assert.True(sent >= 6, all.ToString()); // and the replies leave in 3 too
        output.WriteLine($"{medium} {family}: fragments received {received}, sent {sent}, reassembled {reassembled}");
    }

    /// <summary>Echo replies the stack sent in the peer's family.</summary>
    internal static long EchoReplies(KernelPeer peer) => peer.Ipv6
        ? peer.Stack.Counters.Snapshot().Icmpv6OutOf(Icmpv6Type.EchoReply)
        : peer.Stack.Counters.Snapshot().IcmpOutOf(IcmpType.EchoReply);

    [InteropTheory(Tools = ["ping"])]
    [MemberData(nameof(Media))]
    public async Task Flood_of_1000_pings_is_answered_in_full(string medium)
    {
        await using KernelPeer peer = await Open(medium);

        // Warm up (ARP, JIT) so the flood measures the steady state.
        Assert.Equal(0, peer.Exec(Limit, "ping", "-n", "-c", "1", "-w", "10", KernelPeer.StackAddress.ToString()).ExitCode);
        ToolResult flood = peer.Exec(Limit, "ping", "-n", "-f", "-c", "1000", "-w", "50", KernelPeer.StackAddress.ToString());

        Assert.True(flood.ExitCode == 0, TestNamespace.Describe(flood));
        AssertAllAnswered(flood, 1000);
        StackCountersSnapshot counters = peer.Stack.Counters.Snapshot();
        Assert.Equal(1 + Received(flood), counters.IcmpOutOf(IcmpType.EchoReply));
        Assert.Equal(0, peer.Device.SendsRejected + peer.Device.SendErrors);
        output.WriteLine($"{medium}: {Summary(flood)}; device {peer.Device.ReceivedFrames} frames in, {peer.Device.SentFrames} out; stack dropped {counters.TotalDropped}");
    }

    internal static Task<KernelPeer> Open(string medium, Action<NetworkStack>? configure = null, bool ipv6 = false) =>
        KernelPeer.OpenAsync(medium, configure, ipv6: ipv6);

    /// <summary>
    /// Every echo request ping sent was answered, and at least <paramref name="count"/> were sent.
    /// With <c>-w</c>, ping stops as soon as <paramref name="count"/> replies arrived, so requests
    /// it sent while replies were delayed may still be in flight: at most <c>pipe - 1</c> of them
    /// (ping reports the most outstanding at once as <c>pipe N</c>), always the last ones. So
    /// the check is that every request up to the last reply was answered (no gap in icmp_seq)
    /// and only that many later ones were left outstanding.
    /// </summary>
    internal static void AssertAllAnswered(ToolResult ping, int count)
    {
        Match m = TransmittedPattern().Match(ping.Output);
        Assert.True(m.Success, TestNamespace.Describe(ping));
        int transmitted = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        int received = Received(ping);
        Match pipe = PipePattern().Match(ping.Output);
        int inFlight = pipe.Success ? int.Parse(pipe.Groups[1].Value, CultureInfo.InvariantCulture) - 1 : 0;
        int[] answered = [.. SequencePattern().Matches(ping.Output).Select(static s => int.Parse(s.Groups[1].Value, CultureInfo.InvariantCulture)).Distinct().Order()];
        bool noGap = answered.Length == 0 || (answered.Length == received && answered[^1] == received);
        Assert.True(
            received >= count && noGap && transmitted - received <= inFlight,
            $"{transmitted} sent, {received} answered, {count} expected, {inFlight} may be in flight: {TestNamespace.Describe(ping)}");
    }

    internal static int Received(ToolResult ping)
    {
        Match m = ReceivedPattern().Match(ping.Output);
        Assert.True(m.Success, TestNamespace.Describe(ping));
        return int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static string Summary(ToolResult ping) =>
        string.Join("; ", ping.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(2));

    [GeneratedRegex(@"(\d+) (?:packets )?received")]
    private static partial Regex ReceivedPattern();

    [GeneratedRegex(@"(\d+) packets transmitted")]
    private static partial Regex TransmittedPattern();

    [GeneratedRegex(@", pipe (\d+)")]
    private static partial Regex PipePattern();

    [GeneratedRegex(@"bytes from [0-9a-f.:]+: icmp_seq=(\d+) ")]
    private static partial Regex SequencePattern();
}
