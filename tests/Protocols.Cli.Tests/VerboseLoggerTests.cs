using Microsoft.Extensions.Logging;
using Protocols.Cli.CommandLine;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Cli.Tests;

/// <summary>--verbose gives serve's and get's stack a logger: drops show up on standard error with their layer, field and reason.</summary>
public class VerboseLoggerTests
{
    [Fact]
    public void A_malformed_datagram_is_one_debug_line_saying_why_it_was_dropped()
    {
        var errors = new StringWriter();
        var sim = new NetworkSimulator(3);
        var (a, b) = sim.Network.CreateLink();
        using var stack = new NetworkStack(new NetworkStackOptions { TimeProvider = sim.Clock, Logger = new VerboseLogger(errors) });
        stack.AddInterface(b, Ipv4Address.Parse("10.0.0.2"), 24);

        byte[] packet = new byte[28];
        Ipv4Packet.Write(packet, new Ipv4Header { Ttl = 64, Protocol = IpProtocol.Udp, Source = Ipv4Address.Parse("10.0.0.1"), Destination = Ipv4Address.Parse("10.0.0.2") }, default, new byte[8]);
        packet[0] = 0x44; // IHL 4: below the 5 words of the fixed header
        Assert.True(a.TrySend(packet));
        sim.RunFor(TimeSpan.FromMilliseconds(10));
        stack.Poll();

        Assert.Equal($"debug: {b.Name}: dropped (BadHeaderLength): IPv4.Ihl: invalid value 4 (expected 5) at offset 0{Environment.NewLine}", errors.ToString());
        Assert.Equal(1, stack.Counters.Snapshot().DroppedFor(DropReason.BadHeaderLength));
    }

    [Fact]
    public void Only_debug_and_above_is_written()
    {
        var errors = new StringWriter();
        var logger = new VerboseLogger(errors);
        Assert.False(logger.IsEnabled(LogLevel.Trace));
        logger.LogTrace("hidden");
        logger.LogWarning("shown");
        Assert.Equal($"warning: shown{Environment.NewLine}", errors.ToString());
    }
}
