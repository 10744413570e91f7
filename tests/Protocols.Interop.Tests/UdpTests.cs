using System.Security.Cryptography;
using Protocols.Ip;
using Protocols.Udp;

namespace Protocols.Interop.Tests;

/// <summary>UDP between the kernel and the stack's UdpSocket, over TUN and over veth with the raw device, over IPv4 and IPv6 (socat UDP6).</summary>
public sealed class UdpTests
{
    private const ushort EchoPort = 7;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Media => KernelPeer.Media;

    public static TheoryData<string, string> MediaAndFamilies => PingTests.MediaAndFamilies;

    [InteropTheory(Tools = ["socat"])]
    [MemberData(nameof(MediaAndFamilies))]
    public async Task Kernel_socat_gets_small_datagrams_echoed(string medium, string family)
    {
        await using KernelPeer peer = await PingTests.Open(medium, ipv6: KernelPeer.IsIpv6(family));
        using UdpSocket socket = UdpSocket.Bind(peer.Stack, EchoPort);
        using var stop = new CancellationTokenSource(Limit);
        Task echo = Echo(socket, stop.Token);

        for (int i = 0; i < 3; i++)
        {
            string text = $"hello {i} from the kernel";
            ToolResult result = RunSocat(peer, text, SocatUdp(peer, EchoPort));
            Assert.True(result.ExitCode == 0, TestNamespace.Describe(result));
            Assert.Equal(text, result.Output);
        }

        await stop.CancelAsync();
        await echo.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [InteropTheory(Tools = ["socat"])]
    [MemberData(nameof(MediaAndFamilies))]
    public async Task Datagram_of_60000_bytes_is_echoed_through_fragmentation_both_ways(string medium, string family)
    {
        await using KernelPeer peer = await PingTests.Open(medium, ipv6: KernelPeer.IsIpv6(family));
        using UdpSocket socket = UdpSocket.Bind(peer.Stack, EchoPort);
        using var stop = new CancellationTokenSource(Limit);
        Task echo = Echo(socket, stop.Token);
        string input = Path.Combine(Path.GetTempPath(), $"protocols-udp-{Guid.NewGuid():N}.bin");
        string output = input + ".echo";
        byte[] data = RandomNumberGenerator.GetBytes(60000);
        try
        {
            await File.WriteAllBytesAsync(input, data);

            // socat reads the file from stdin in one read (-b covers it), sends it as one datagram and writes the echo to stdout.
            ToolResult result = peer.Exec(Limit, "sh", "-c", $"socat -b 65536 -t 3 - {SocatUdp(peer, EchoPort)} < {input} > {output}");
            Assert.True(result.ExitCode == 0, TestNamespace.Describe(result));
            Assert.Equal(data, await File.ReadAllBytesAsync(output));

            StackCountersSnapshot counters = peer.Stack.Counters.Snapshot();
            (long reassembled, long sent) = peer.Ipv6 ? (counters.Ipv6.Reassembled, counters.Ipv6.FragmentsSent) : (counters.Reassembled, counters.FragmentsSent);
            Assert.True(reassembled >= 1, counters.ToString());
            Assert.True(sent >= (peer.Ipv6 ? 42 : 41), counters.ToString()); // 60008 bytes of UDP in 1480-byte pieces (1448 over IPv6)
        }
        finally
        {
            File.Delete(input);
            File.Delete(output);
            await stop.CancelAsync();
            await echo.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [InteropTheory(Tools = ["socat"])]
    [MemberData(nameof(MediaAndFamilies))]
    public async Task Kernel_sees_our_port_unreachable(string medium, string family)
    {
        await using KernelPeer peer = await PingTests.Open(medium, static stack => stack.UseUdp(), KernelPeer.IsIpv6(family));
        string counter = peer.Ipv6 ? "Icmp6InDestUnreachs" : "InDestUnreachs";
        long before = KernelIcmpCounter(peer, counter);

        // UDP runs but nothing is bound on port 9: the stack answers ICMP port unreachable, which
        // the kernel reports to socat's connected socket as ECONNREFUSED (protocol unreachable
        // would be ENOPROTOOPT, "Protocol not available").
        ToolResult result = RunSocat(peer, "anyone there?", SocatUdp(peer, 9));
        Assert.NotEqual(0, result.ExitCode);
        Assert.True(result.Error.Contains("Connection refused", StringComparison.Ordinal), TestNamespace.Describe(result));
        Assert.True(KernelIcmpCounter(peer, counter) > before);
        StackCountersSnapshot sent = peer.Stack.Counters.Snapshot();
        Assert.True((peer.Ipv6 ? sent.Icmpv6OutOf(Icmpv6Type.DestinationUnreachable) : sent.IcmpOutOf(IcmpType.DestinationUnreachable)) >= 1);
    }

    [InteropTheory]
    [MemberData(nameof(MediaAndFamilies))]
    public async Task Our_socket_sees_the_kernels_port_unreachable(string medium, string family)
    {
        await using KernelPeer peer = await PingTests.Open(medium, ipv6: KernelPeer.IsIpv6(family));
        using UdpSocket socket = UdpSocket.Connect(peer.Stack, new IpEndpoint(peer.KernelIp, 9));
        using var limit = new CancellationTokenSource(Limit);

        // The kernel has no socket on port 9 and answers with ICMP port unreachable; like a
        // connected Linux socket, ours reports it as connection refused.
        await socket.SendAsync(new byte[] { 1, 2, 3 }, limit.Token);
        UdpException refused = await Assert.ThrowsAsync<UdpException>(async () => await socket.ReceiveFromAsync(new byte[16], limit.Token));
        Assert.Equal(System.Net.Sockets.SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    // socat's client address for the stack's port: UDP:10.66.0.2:7 or UDP6:[2001:db8:66::2]:7.
    private static string SocatUdp(KernelPeer peer, ushort port) =>
        peer.Ipv6 ? $"UDP6:{KernelPeer.Host(peer.StackIp)}:{port}" : $"UDP:{peer.StackIp}:{port}";

    private static ToolResult RunSocat(KernelPeer peer, string text, string address) =>
        peer.Exec(Limit, "sh", "-c", $"printf '%s' '{text}' | socat -t 2 - {address}");

    private static long KernelIcmpCounter(KernelPeer peer, string name)
    {
        if (name.StartsWith("Icmp6", StringComparison.Ordinal))
        {
            // /proc/net/snmp6: one "Name value" pair per line.
            foreach (string line in peer.Exec(Limit, "cat", "/proc/net/snmp6").Output.Split('\n'))
            {
                string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length == 2 && fields[0] == name)
                {
                    return long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            throw new InvalidOperationException($"no {name} in /proc/net/snmp6");
        }

        string[] lines = peer.Exec(Limit, "cat", "/proc/net/snmp").Output.Split('\n');
        for (int i = 0; i + 1 < lines.Length; i++)
        {
            if (lines[i].StartsWith("Icmp:", StringComparison.Ordinal) && lines[i + 1].StartsWith("Icmp:", StringComparison.Ordinal))
            {
                int column = Array.IndexOf(lines[i].Split(' '), name);
                return long.Parse(lines[i + 1].Split(' ')[column], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("no Icmp lines in /proc/net/snmp");
    }

    /// <summary>Echoes every datagram back to its sender until cancelled.</summary>
    private static Task Echo(UdpSocket socket, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        byte[] buffer = new byte[UdpPacket.MaxPayloadLength];
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                UdpReceiveResult received = await socket.ReceiveFromAsync(buffer, cancellationToken);
                await socket.SendToAsync(buffer.AsMemory(0, received.BytesReceived), received.RemoteEndpoint, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    });
}
