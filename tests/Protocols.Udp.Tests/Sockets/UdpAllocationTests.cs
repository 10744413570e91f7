using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Udp.Tests.Sockets;

/// <summary>Steady-state datagrams allocate nothing in UDP: operations are reused, data is copied into the caller's buffer.</summary>
public class UdpAllocationTests
{
    [Fact]
    public void Send_and_receive_allocate_nothing_per_datagram_in_steady_state()
    {
        var clock = new VirtualClock();
        var network = new MemoryNetwork(seed: 1, clock);
        var (da, db) = network.CreateLink(medium: DeviceMedium.Ip);
        using var a = new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 1 });
        using var b = new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 2 });
        a.AddInterface(da, Ipv4Address.Parse("10.0.0.1"), 24);
        b.AddInterface(db, Ipv4Address.Parse("10.0.0.2"), 24);
        using var server = UdpSocket.Bind(b, 7);
        using var client = UdpSocket.Connect(a, IpEndpoint.Parse("10.0.0.2:7"));
        var payload = new byte[512];
        var buffer = new byte[2048];

        void RoundTrip()
        {
            ValueTask<UdpReceiveResult> receive = server.ReceiveFromAsync(buffer);
            ValueTask send = client.SendAsync(payload);
            a.Poll();
            b.Poll();
            b.Poll();
            // Plain checks: xUnit's asserts allocate (boxing, comparers), which would be measured too.
            if (!send.IsCompletedSuccessfully || !receive.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("a round trip did not complete within one poll of each stack");
            }

            send.GetAwaiter().GetResult();
            if (receive.GetAwaiter().GetResult().BytesReceived != 512)
            {
                throw new InvalidOperationException("wrong length");
            }
        }

        for (int i = 0; i < 2000; i++)
        {
            RoundTrip(); // warm up: pools, queues, JIT tiers
        }

        const int N = 10_000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < N; i++)
        {
            RoundTrip();
        }

        long perDatagram = (GC.GetAllocatedBytesForCurrentThread() - before) / N;
        Assert.True(perDatagram < 16, $"{perDatagram} bytes allocated per datagram");
        Assert.Equal(N + 2000, b.Udp().Counters.Snapshot().DatagramsReceived);
    }
}
