using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Tcp.Engine;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>Hostile input never throws out of the layer: random segments at a listener, a live connection and closed ports.</summary>
public class TcpHostileInputTests
{
    [Fact]
    public void Random_segments_never_throw_and_the_connection_survives_or_fails_cleanly()
    {
        var net = new TcpStackPair(seed: 91, new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) });
        using TcpListener listener = net.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = net.Connect(listener);
        NetworkInterface nic = net.B.Interfaces[0];
        var random = new Random(91);
        var bytes = new byte[200];
        TcpFlags[] interesting = [TcpFlags.Syn, TcpFlags.Ack, TcpFlags.Rst, TcpFlags.Fin | TcpFlags.Ack, TcpFlags.Syn | TcpFlags.Ack, TcpFlags.Rst | TcpFlags.Ack, TcpFlags.Psh | TcpFlags.Ack, (TcpFlags)0xff, TcpFlags.None];
        for (int i = 0; i < 20_000; i++)
        {
            // A third to the live connection, a third to the listener, a third to a closed port;
            // flags, numbers, windows, options and payload random.
            ushort sourcePort = (i % 3) switch { 0 => client.LocalEndPoint.Port, 1 => (ushort)random.Next(1024, 65536), _ => (ushort)random.Next(1, 65536) };
            ushort destinationPort = (i % 3) switch { 0 or 1 => 80, _ => (ushort)random.Next(1000, 2000) };
            var options = new TcpOptions();
            if (random.Next(2) == 0)
            {
                options.Mss = (ushort)random.Next(0, 65536);
                options.WindowScale = (byte)random.Next(0, 20);
                options.Timestamps = new TcpTimestamps((uint)random.NextInt64(), (uint)random.NextInt64());
                options.SackPermitted = random.Next(2) == 0;
            }

            var segment = new TcpOutgoingSegment
            {
                Seq = new SeqNum((uint)random.NextInt64()),
                Ack = new SeqNum((uint)random.NextInt64()),
                Flags = interesting[random.Next(interesting.Length)],
                Window = (ushort)random.Next(65536),
                Options = options,
            };
            random.NextBytes(bytes);
            int payload = random.Next(0, 100);
            var tuple = new TcpFourTuple(TcpStackPair.AddressA, sourcePort, TcpStackPair.AddressB, destinationPort);
            int length = segment.Write(bytes, tuple, bytes.AsSpan(150, Math.Min(payload, 50)), default);
            if (random.Next(10) == 0)
            {
                bytes[12] = (byte)(random.Next(16) << 4); // a random data offset
            }

            var datagram = new IpDatagram(nic, default, bytes.AsSpan(0, length), TcpStackPair.AddressA, TcpStackPair.AddressB, IpProtocol.Tcp, 64, 1, false, checksumsVerifiedByDevice: true);
            net.TcpB.OnDatagram(net.B, in datagram);
            if (i % 100 == 0)
            {
                net.Sim.RunFor(TimeSpan.FromMilliseconds(10));
            }
        }

        net.Sim.RunFor(TimeSpan.FromMinutes(3));
        Assert.Equal(0, net.B.Counters.Snapshot().CallbackExceptions);
        Assert.Equal(0, net.A.Counters.Snapshot().CallbackExceptions);

        // The half-open connections the SYNs made are gone (SYN-ACK retries), the listener still works.
        Assert.Equal(0, listener.SynQueueCount);
        byte[] got = net.Run(async () =>
        {
            Task<TcpStream> accept = listener.AcceptAsync();
            using TcpStream c = await net.TcpA.ConnectAsync(new IpEndpoint(TcpStackPair.AddressB, 80));
            using TcpStream s = await accept;
            await c.WriteAsync("still"u8.ToArray());
            var buffer = new byte[5];
            await s.ReadExactlyAsync(buffer);
            return buffer;
        });
        Assert.Equal("still"u8.ToArray(), got);
        client.Dispose();
        server.Dispose();
    }
}
