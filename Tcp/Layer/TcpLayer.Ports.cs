using System.Buffers.Binary;
using Protocols.Ip;
using Protocols.Tcp.Engine;
using Protocols.Wire;

namespace Protocols.Tcp;

public sealed partial class TcpLayer
{
    private readonly EphemeralPorts _ports;

    /// <summary>
    /// Picks a local port for a connection from <paramref name="local"/> to <paramref name="remote"/>
    /// whose 4-tuple is in no connection of the table (TIME_WAIT included) and that no listener
    /// holds. On the loop.
    /// </summary>
    /// <returns>False when every port of the ephemeral range is taken for this destination.</returns>
    internal bool TryAllocateEphemeralPort(IpAddress local, IpEndpoint remote, out ushort port)
    {
        // RFC 6056 3.3.4, Algorithm 4 ("double-hash", what Linux does): the search starts at a
        // keyed hash of the destination plus a per-bucket counter, so a destination sees
        // sequential ports (few collisions, quick reuse of TIME_WAIT-free ports) while other
        // destinations, and off-path attackers, cannot predict them.
        EphemeralPorts ports = _ports;
        uint offset = ports.Offset(local, remote, out int bucket);
        int count = ports.Count;
        ushort next = ports.Table[bucket];
        for (int probe = 0; probe < count; probe++)
        {
            int candidate = ports.First + (int)((offset + next + (uint)probe) % (uint)count);
            var tuple = new TcpFourTuple(local, (ushort)candidate, remote.Address, remote.Port);
            if (!IsInUse(tuple) && !IsListenedPort(local, (ushort)candidate))
            {
                ports.Table[bucket] = unchecked((ushort)(next + probe + 1));
                port = (ushort)candidate;
                return true;
            }
        }

        port = 0;
        return false;
    }

    private bool IsListenedPort(IpAddress local, ushort port) =>
        !_listeners.IsEmpty && FindListener(local, port) is not null;

    private sealed class EphemeralPorts
    {
        private const int TableSize = 256;
        private readonly SipHash _hash;

        public EphemeralPorts(ushort first, ushort last, ReadOnlySpan<byte> secret, Random random)
        {
            First = first;
            Count = last - first + 1;
            _hash = new SipHash(secret);

            // Random starting counters, so even the first port for a destination is not F() alone.
            for (int i = 0; i < TableSize; i++)
            {
                Table[i] = (ushort)random.Next(ushort.MaxValue + 1);
            }
        }

        public int First { get; }

        public int Count { get; }

        public ushort[] Table { get; } = new ushort[TableSize];

        // F(local address, remote address, remote port, secret) and, from other bits of the same
        // keyed hash, G(...) to pick the counter.
        public uint Offset(IpAddress local, IpEndpoint remote, out int bucket)
        {
            // 10 bytes for IPv4, 34 for IPv6.
            Span<byte> input = stackalloc byte[34];
            int n = local.WriteTo(input);
            n += remote.Address.WriteTo(input[n..]);
            BinaryPrimitives.WriteUInt16BigEndian(input[n..], remote.Port);
            ulong h = _hash.Hash(input[..(n + 2)]);
            bucket = (int)(h >> 56);
            return (uint)h;
        }
    }
}
