using System.Runtime.CompilerServices;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Tests.Shared;
using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;

namespace Protocols.Tcp.Tests.Harness;

/// <summary>
/// A <see cref="ScriptedBed"/> whose stack runs our TCP (<c>UseTcp</c>), with helpers for the
/// handshakes that tests not about handshakes start from. Numbers are the peer's own choices:
/// the peer's ISN is <see cref="PeerIss"/>, the stack's is read from its SYN or SYN-ACK.
/// </summary>
internal sealed class TcpBed : ScriptedBed
{
    /// <summary>The peer's initial sequence number in the helpers.</summary>
    public const uint PeerIss = 1000;

    public TcpBed(ITestOutputHelper? output, TcpConnectionOptions? defaults = null, TcpStackOptions? stackOptions = null, int seed = 1, int mtu = 1500, LinkOptions? link = null, bool receiveCoalescing = true)
        : base(output, seed, mtu, link, stack => stack.UseTcp(stackOptions ?? new TcpStackOptions { Seed = seed, Defaults = defaults ?? new TcpConnectionOptions() }), receiveCoalescing)
    {
    }

    public TcpLayer Tcp => Stack.Tcp();

    /// <summary>The stack's connections, listeners included (read on the loop: the simulation runs on this thread).</summary>
    public IReadOnlyList<TcpConnectionInfo> Connections => Tcp.GetConnections();

    /// <summary>The one connection (not a listener) in the table, or null.</summary>
    public TcpConnectionInfo? Connection => Connections.SingleOrDefault(c => c.State != TcpState.Listen);

    /// <summary>The state of the one connection, or Closed when there is none.</summary>
    public TcpState State => Connection?.State ?? TcpState.Closed;

    /// <summary>The peer's SYN options in the helpers: MSS 1460, window scale 7, no timestamps (so later segments need none).</summary>
    public static TcpOptions DefaultSynOptions => ScriptedPeer.Options(mss: Family.Mss, ws: 7);

    /// <summary>
    /// Listens on <paramref name="port"/>, plays a client's handshake from the peer (SYN with
    /// <paramref name="synOptions"/>, then the ACK of the SYN-ACK with <paramref name="window"/>),
    /// and returns the accepted stream and the SYN-ACK.
    /// </summary>
    public (TcpStream Server, CapturedSegment SynAck, TcpListener Listener) PassiveOpen(TcpOptions? synOptions = null, ushort window = 65535, ushort port = 80, TcpConnectionOptions? options = null, uint? tsVal = null)
    {
        TcpListener listener = Tcp.Listen(port, 16, options);
        Peer.RemotePort = port;
        Task<TcpStream> accept = Start(async () => await listener.AcceptAsync(CancellationToken.None));
        TcpOptions syn = synOptions ?? DefaultSynOptions;
        Peer.Send(Syn, seq: PeerIss, window: window, options: syn);
        CapturedSegment synAck = Peer.Expect(Syn | Ack, ack: PeerIss + 1);
        Peer.Send(Ack, seq: PeerIss + 1, ack: synAck.Seq + 1, window: window, options: AckOptions(synAck, tsVal ?? 101));
        TcpStream server = Complete(accept);
        return (server, synAck, listener);
    }

    /// <summary>
    /// Connects from the stack to the peer (which plays a server on <paramref name="peerPort"/>),
    /// answers the SYN with a SYN-ACK (ISN <see cref="PeerIss"/>, <paramref name="synAckOptions"/>),
    /// expects the ACK, and returns the client stream and the SYN.
    /// </summary>
    public (TcpStream Client, CapturedSegment Syn) ActiveOpen(TcpOptions? synAckOptions = null, ushort window = 65535, ushort peerPort = 80, TcpConnectionOptions? options = null)
    {
        Peer.Port = peerPort;
        Peer.RemotePort = 0;
        Task<TcpStream> connect = Start(async () => await Tcp.ConnectAsync(new IpEndpoint(PeerAddress, peerPort), options, null, CancellationToken.None));
        CapturedSegment syn = Peer.Expect(Syn, ack: 0);
        TcpOptions reply = synAckOptions ?? ScriptedPeer.Options(mss: Family.Mss, ws: 7, ts: syn.Options.Timestamps is { } ts ? (500, ts.TsVal) : null);
        Peer.Send(Syn | Ack, seq: PeerIss, ack: syn.Seq + 1, window: window, options: reply);
        Peer.Expect(Ack, seq: syn.Seq + 1, ack: PeerIss + 1);
        TcpStream client = Complete(connect);
        return (client, syn);
    }

    /// <summary>Timestamps for the peer's next segment when the stack's <paramref name="last"/> carried them (echoing its TSval), else none.</summary>
    public static TcpOptions AckOptions(CapturedSegment last, uint tsVal) =>
        last.Options.Timestamps is { } ts ? ScriptedPeer.Options(ts: (tsVal, ts.TsVal)) : default;

    /// <summary>
    /// The peer sends segment <paramref name="index"/> of its data after the handshake: segments of
    /// <paramref name="size"/> bytes (the family's MSS unless told) numbered from 0 at
    /// <see cref="PeerIss"/> + 1, each carrying its slice of <see cref="Pattern"/> and acknowledging
    /// the stack's <paramref name="iss"/> + 1.
    /// </summary>
    public CapturedPacket SendSegment(uint iss, int index, int? size = null, TcpFlags flags = Ack, TcpOptions options = default, ushort? fromPort = null)
    {
        int length = size ?? Family.Mss;
        return Peer.Send(flags, seq: PeerIss + 1 + (uint)(index * length), ack: iss + 1, options: options, payload: Pattern(length, index * length), fromPort: fromPort);
    }

    /// <summary>The peer sends <paramref name="count"/> full-sized segments of its data, from segment <paramref name="first"/> on, back to back (one receive batch).</summary>
    public void SendSegments(uint iss, int count, int first = 0)
    {
        for (int i = first; i < first + count; i++)
        {
            SendSegment(iss, i);
        }
    }

    /// <summary>
    /// Expects a pure ACK (no data, sequence <paramref name="iss"/> + 1) of the peer's first
    /// <paramref name="acked"/> bytes of data, sent at once (or exactly <paramref name="at"/> later),
    /// with the raw <paramref name="window"/> and <paramref name="options"/> when given.
    /// </summary>
    public CapturedSegment ExpectAck(uint iss, int acked, TimeSpan? at = null, ushort? window = null, Func<TcpOptions, bool>? options = null, [CallerArgumentExpression(nameof(options))] string? optionsText = null) =>
        Peer.Expect(Ack, seq: iss + 1, ack: PeerIss + 1 + (uint)acked, window: window, options: options, length: 0, at: at ?? TimeSpan.Zero, optionsText: optionsText);

    /// <summary>Starts a write of <paramref name="data"/> inside the simulation.</summary>
    public Task Write(TcpStream stream, byte[] data) => Start(async () => await stream.WriteAsync(data));

    /// <summary>Starts one read of up to <paramref name="max"/> bytes inside the simulation; the task gives the bytes read.</summary>
    public Task<byte[]> Read(TcpStream stream, int max = 65536) => Start(async () =>
    {
        var buffer = new byte[max];
        int n = await stream.ReadAsync(buffer);
        return buffer[..n];
    });

    /// <summary>
    /// Starts reading exactly <paramref name="count"/> bytes inside the simulation. (Stream.ReadExactlyAsync
    /// awaits with ConfigureAwait(false), so its continuations would leave the simulation's context.)
    /// </summary>
    public Task<byte[]> ReadExactly(TcpStream stream, int count) => Start(async () =>
    {
        var buffer = new byte[count];
        int got = 0;
        while (got < count)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(got));
            if (n == 0)
            {
                throw new EndOfStreamException($"end of stream after {got} of {count} bytes");
            }

            got += n;
        }

        return buffer;
    });

    /// <summary>The bytes 0, 1, 2... of length <paramref name="length"/> starting at <paramref name="offset"/> (mod 251).</summary>
    public static byte[] Pattern(int length, int offset = 0)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = (byte)((offset + i) % 251);
        }

        return data;
    }
}
