using System.Runtime.CompilerServices;
using System.Text;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Tests.Shared;
using Protocols.Wire;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Protocols.Tcp.Tests.Harness;

/// <summary>
/// The test plays the peer of a real stack at the IP level, segment by segment, in the style of
/// gVisor's packetimpact: <see cref="Send"/> puts an exact segment on the wire, <see cref="Expect"/>
/// runs the simulation (virtual time) until the stack answers and checks the answer exactly,
/// <see cref="ExpectNothing"/> checks the stack stays silent for a while.
/// </summary>
/// <remarks>
/// Registered as a pollable of the <see cref="NetworkSimulator"/>: every frame that reaches the peer's
/// end of the link is decoded (IPv4 or IPv6, TCP header, options, checksum) and queued for the next
/// expectation. Failures print the expectation, what arrived, and the recent conversation.
/// The peer keeps no TCP state of its own: the test gives every number.
/// </remarks>
internal sealed class ScriptedPeer : IPollDriven
{
    /// <summary>How long <see cref="Expect"/> waits unless told otherwise.</summary>
    public static readonly TimeSpan DefaultWithin = TimeSpan.FromSeconds(1);

    private readonly NetworkSimulator _sim;
    private readonly MemoryDevice _device;
    private readonly ITestOutputHelper? _output;
    private readonly Queue<CapturedPacket> _unconsumed = new();
    private readonly List<CapturedPacket> _log = [];
    private readonly byte[] _buffer = new byte[65536];
    private ushort _identification = 1;

    public ScriptedPeer(NetworkSimulator sim, MemoryDevice device, IpAddress address, IpAddress remoteAddress, ITestOutputHelper? output)
    {
        _sim = sim;
        _device = device;
        _output = output;
        Address = address;
        RemoteAddress = remoteAddress;
    }

    /// <summary>The peer's own address (the source of what it sends); its family is the conversation's.</summary>
    public IpAddress Address { get; }

    /// <summary>The stack's address.</summary>
    public IpAddress RemoteAddress { get; }

    /// <summary>The peer's port: the source of what it sends, the destination it expects.</summary>
    public ushort Port { get; set; } = 40000;

    /// <summary>The stack's port; 0 = not known yet (the first segment expected from the stack sets it, e.g. an ephemeral port).</summary>
    public ushort RemotePort { get; set; } = 80;

    /// <summary>Everything sent and received so far, in order.</summary>
    public IReadOnlyList<CapturedPacket> Log => _log;

    /// <summary>The packet the last successful <see cref="Expect"/> matched (e.g. to quote it in an ICMP error).</summary>
    public CapturedPacket? LastExpected { get; private set; }

    /// <summary>Packets received and not yet consumed by an expectation.</summary>
    public int Pending => _unconsumed.Count;

    /// <summary>The peer never needs waking on its own.</summary>
    public DateTimeOffset? NextDeadline => null;

    /// <summary>Virtual time since the start of the simulation.</summary>
    public TimeSpan Now => _sim.Elapsed;

    /// <inheritdoc/>
    public int Poll() => _device.Receive(OnFrame, 64);

    /// <summary>Options for a segment, e.g. <c>Options(mss: Family.Mss, ws: 7, sackOk: true, ts: (100, 0))</c>.</summary>
    public static TcpOptions Options(ushort? mss = null, byte? ws = null, bool sackOk = false, (uint Val, uint Ecr)? ts = null) => new()
    {
        Mss = mss,
        WindowScale = ws,
        SackPermitted = sackOk,
        Timestamps = ts is { } t ? new TcpTimestamps(t.Val, t.Ecr) : null,
    };

    /// <summary>
    /// Sends one TCP segment to the stack, exactly as described (the time does not move: the
    /// next expectation or run delivers it).
    /// </summary>
    /// <param name="flags">Control bits.</param>
    /// <param name="seq">Sequence number.</param>
    /// <param name="ack">Acknowledgment number.</param>
    /// <param name="window">The raw window field.</param>
    /// <param name="options">Options, laid out as Linux does.</param>
    /// <param name="payload">Data.</param>
    /// <param name="urgent">Urgent pointer.</param>
    /// <param name="rawOptions">Options bytes written as given instead of <paramref name="options"/> (malformed-input tests); padded to 4 with zeros.</param>
    /// <param name="badChecksum">Send a wrong checksum.</param>
    /// <param name="fromPort">Source port (default <see cref="Port"/>).</param>
    /// <param name="toPort">Destination port (default <see cref="RemotePort"/>).</param>
    /// <param name="from">Source address (default <see cref="Address"/>), e.g. a spoofed one.</param>
    /// <returns>The packet as sent.</returns>
    public CapturedPacket Send(
        TcpFlags flags,
        uint seq,
        uint ack = 0,
        ushort window = 65535,
        TcpOptions options = default,
        ReadOnlySpan<byte> payload = default,
        ushort urgent = 0,
        byte[]? rawOptions = null,
        bool badChecksum = false,
        ushort? fromPort = null,
        ushort? toPort = null,
        IpAddress? from = null)
    {
        IpAddress source = from ?? Address;
        byte[] tcp = BuildSegment(source, RemoteAddress, fromPort ?? Port, toPort ?? RemotePort, flags, seq, ack, window, options, payload, urgent, rawOptions, badChecksum);
        return SendIp(IpProtocol.Tcp, tcp, source, RemoteAddress);
    }

    /// <summary>Builds a TCP segment (header, options in Linux's layout or raw, payload) with its checksum over the IPv4 or IPv6 pseudo-header.</summary>
    public static byte[] BuildSegment(
        IpAddress source,
        IpAddress destination,
        ushort sourcePort,
        ushort destinationPort,
        TcpFlags flags,
        uint seq,
        uint ack = 0,
        ushort window = 65535,
        TcpOptions options = default,
        ReadOnlySpan<byte> payload = default,
        ushort urgent = 0,
        byte[]? rawOptions = null,
        bool badChecksum = false)
    {
        Span<byte> optionBytes = stackalloc byte[TcpOptions.MaxLength];
        int optionsLength;
        if (rawOptions is not null)
        {
            if (rawOptions.Length > TcpOptions.MaxLength)
            {
                throw new ArgumentException("At most 40 bytes of options.", nameof(rawOptions));
            }

            optionBytes.Clear();
            rawOptions.CopyTo(optionBytes);
            optionsLength = (rawOptions.Length + 3) & ~3;
        }
        else if (!options.TryWriteTo(optionBytes, out optionsLength))
        {
            throw new ArgumentException($"Options do not fit in 40 bytes: {options}", nameof(options));
        }

        int headerLength = TcpHeader.FixedLength + optionsLength;
        int tcpLength = headerLength + payload.Length;
        var tcp = new byte[tcpLength];
        new TcpHeader
        {
            SourcePort = sourcePort,
            DestinationPort = destinationPort,
            SequenceNumber = seq,
            AcknowledgmentNumber = ack,
            DataOffset = (byte)(headerLength / 4),
            Flags = flags,
            Window = window,
            UrgentPointer = urgent,
        }.WriteTo(tcp);
        optionBytes[..optionsLength].CopyTo(tcp.AsSpan(TcpHeader.FixedLength));
        payload.CopyTo(tcp.AsSpan(headerLength));
        TcpHeader.FillChecksum(tcp, Checksum.PseudoHeaderSum(source, destination, TcpHeader.IpProtocolNumber, tcpLength));
        if (badChecksum)
        {
            tcp[16] ^= 0x5a;
        }

        return tcp;
    }

    /// <summary>Builds an IPv4 packet (TTL <paramref name="ttl"/>, DF) around <paramref name="payload"/> into <paramref name="destination"/>; returns its length.</summary>
    public static int BuildIpv4(Span<byte> destination, IpProtocol protocol, Ipv4Address source, Ipv4Address to, ushort identification, ReadOnlySpan<byte> payload, byte ttl = 64)
    {
        var header = new Ipv4Header
        {
            Version = 4,
            Ttl = ttl,
            Protocol = protocol,
            Identification = identification,
            DontFragment = true,
            Source = source,
            Destination = to,
        };
        return Ipv4Packet.Write(destination, header, [], payload);
    }

    /// <summary>
    /// Sends an ICMP error to the stack (as a router between would), quoting <paramref name="quoted"/>
    /// (a packet the stack sent). Over IPv6 it sends the ICMPv6 equivalent (RFC 4443): fragmentation
    /// needed is packet too big (<paramref name="nextHopMtu"/> as given, even below 1280), host
    /// unreachable is address unreachable, port unreachable stays port unreachable, protocol
    /// unreachable is a parameter problem (unrecognised next header), time exceeded stays.
    /// </summary>
    public CapturedPacket SendIcmpError(IcmpType type, byte code, CapturedPacket quoted, ushort nextHopMtu = 0, IpAddress? reporter = null)
    {
        if (Address.IsIpv6)
        {
            (Icmpv6Type type6, byte code6, uint rest) = (type, code) switch
            {
                (IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded) => (Icmpv6Type.PacketTooBig, (byte)0, (uint)nextHopMtu),
                (IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.PortUnreachable) => (Icmpv6Type.DestinationUnreachable, (byte)Icmpv6UnreachableCode.PortUnreachable, 0u),
                (IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.ProtocolUnreachable) => (Icmpv6Type.ParameterProblem, (byte)Icmpv6ParameterProblemCode.UnrecognizedNextHeader, 6u),
                (IcmpType.DestinationUnreachable, _) => (Icmpv6Type.DestinationUnreachable, (byte)Icmpv6UnreachableCode.AddressUnreachable, 0u),
                (IcmpType.TimeExceeded, _) => (Icmpv6Type.TimeExceeded, code, 0u),
                _ => (Icmpv6Type.ParameterProblem, (byte)0, 0u),
            };
            IpAddress from6 = reporter ?? Address;
            var icmp6 = new byte[Ipv6Packet.MinimumMtu - Ipv6Header.FixedLength];
            int quoteLength = Math.Min(quoted.Bytes.Length, icmp6.Length - Icmpv6Header.FixedLength);
            int length6 = Icmpv6Message.WriteError(icmp6, from6.ToIpv6(), RemoteAddress.ToIpv6(), type6, code6, rest, quoted.Bytes.AsSpan(0, quoteLength));
            return SendIp(IpProtocol.Icmpv6, icmp6.AsSpan(0, length6), from6, RemoteAddress);
        }

        var icmp = new byte[IcmpHeader.FixedLength + Ipv4Packet.MaxHeaderLength + 64];
        int length = IcmpMessage.WriteError(icmp, type, code, nextHopMtu, quoted.Bytes);
        return SendIp(IpProtocol.Icmp, icmp.AsSpan(0, length), reporter ?? Address, RemoteAddress);
    }

    /// <summary>The TTL (IPv4) or hop limit (IPv6) of the packets the peer sends; 64 unless a test changes it.</summary>
    public byte Ttl { get; set; } = 64;

    /// <summary>Sends any IPv4 or IPv6 packet (by the family of the addresses) with the given payload.</summary>
    public CapturedPacket SendIp(IpProtocol protocol, ReadOnlySpan<byte> payload, IpAddress source, IpAddress destination)
    {
        int n = source.IsIpv6
            ? Ipv6Packet.Write(_buffer, new Ipv6Header { NextHeader = protocol, HopLimit = Ttl, Source = source.ToIpv6(), Destination = destination.ToIpv6() }, [], payload)
            : BuildIpv4(_buffer, protocol, source.ToIpv4(), destination.ToIpv4(), _identification++, payload, Ttl);
        var packet = CapturedPacket.Decode(Now, _buffer.AsSpan(0, n));
        _log.Add(packet);
        _output?.WriteLine("peer > " + packet);
        Assert.True(_device.TrySend(_buffer.AsSpan(0, n)), "the peer's device refused the packet (closed?)");
        return packet;
    }

    /// <summary>
    /// Runs the simulation until the stack sends something to the peer and checks it is the
    /// segment described; returns it (read its <c>Seq</c> to learn the stack's ISN).
    /// </summary>
    /// <param name="flags">The exact control bits (bits in <paramref name="ignoreFlags"/> are not compared).</param>
    /// <param name="seq">The expected sequence number, or null for any.</param>
    /// <param name="ack">The expected acknowledgment number, or null for any.</param>
    /// <param name="window">The expected raw window, or null for any.</param>
    /// <param name="options">A predicate over the options, or null for any; printed as written on failure.</param>
    /// <param name="payload">The exact data expected, or null for any.</param>
    /// <param name="length">The expected data length, or null for any.</param>
    /// <param name="within">How long to wait (default one second of virtual time).</param>
    /// <param name="at">When set, the segment must arrive exactly this long after the call (± <paramref name="tolerance"/>).</param>
    /// <param name="tolerance">Allowed deviation from <paramref name="at"/>.</param>
    /// <param name="ignoreFlags">Bits not compared (e.g. PSH on data segments).</param>
    /// <param name="optionsText">Filled by the compiler with the text of <paramref name="options"/>.</param>
    public CapturedSegment Expect(
        TcpFlags flags,
        uint? seq = null,
        uint? ack = null,
        ushort? window = null,
        Func<TcpOptions, bool>? options = null,
        byte[]? payload = null,
        int? length = null,
        TimeSpan? within = null,
        TimeSpan? at = null,
        TimeSpan? tolerance = null,
        TcpFlags ignoreFlags = TcpFlags.None,
        [CallerArgumentExpression(nameof(options))] string? optionsText = null)
    {
        TimeSpan tol = tolerance ?? TimeSpan.Zero;
        TimeSpan wait = within ?? (at is TimeSpan exact ? exact + tol : DefaultWithin);
        string expectation = DescribeExpectation(flags, seq, ack, window, optionsText, payload, length, wait, at, tol, ignoreFlags);
        TimeSpan start = Now;
        CapturedPacket packet = Next(wait) ?? throw Failure($"Expected {expectation}; nothing arrived within {wait} (now {CapturedPacket.FormatTime(Now)}).", null);
        var problems = new List<string>();
        CapturedSegment? s = packet.Segment;
        if (s is null)
        {
            throw Failure($"Expected {expectation}; got a packet that is not a readable TCP segment.", packet);
        }

        if (!s.ChecksumValid)
        {
            problems.Add("the TCP checksum is wrong");
        }

        if (s.From.Address != RemoteAddress || s.To.Address != Address)
        {
            problems.Add($"addresses {s.From.Address} > {s.To.Address}, expected {RemoteAddress} > {Address}");
        }

        if ((RemotePort != 0 && s.From.Port != RemotePort) || s.To.Port != Port)
        {
            problems.Add($"ports {s.From.Port} > {s.To.Port}, expected {(RemotePort == 0 ? "any" : RemotePort)} > {Port}");
        }

        if ((s.Flags & ~ignoreFlags) != (flags & ~ignoreFlags))
        {
            problems.Add($"flags [{CapturedSegment.FlagLetters(s.Flags)}], expected [{CapturedSegment.FlagLetters(flags)}]");
        }

        if (seq is uint q && s.Seq != q)
        {
            problems.Add($"seq {s.Seq}, expected {q} (off by {unchecked((int)(s.Seq - q))})");
        }

        if (ack is uint a && s.Ack != a)
        {
            problems.Add($"ack {s.Ack}, expected {a} (off by {unchecked((int)(s.Ack - a))})");
        }

        if (window is ushort w && s.Window != w)
        {
            problems.Add($"window {s.Window}, expected {w}");
        }

        if (options is not null && !options(s.Options))
        {
            problems.Add($"options [{s.Options}] do not satisfy {optionsText}");
        }

        if (payload is not null && !s.Payload.AsSpan().SequenceEqual(payload))
        {
            problems.Add($"payload of {s.Payload.Length} bytes ({Preview(s.Payload)}) differs from the {payload.Length} expected ({Preview(payload)})");
        }

        if (length is int l && s.Payload.Length != l)
        {
            problems.Add($"length {s.Payload.Length}, expected {l}");
        }

        if (at is TimeSpan when && ((s.At - start) < when - tol || (s.At - start) > when + tol))
        {
            problems.Add($"arrived {FormatDelay(s.At - start)} after the expectation started, expected {FormatDelay(when)}{(tol > TimeSpan.Zero ? $" ± {FormatDelay(tol)}" : "")}");
        }

        if (problems.Count > 0)
        {
            throw Failure($"Expected {expectation};{Environment.NewLine}got       {s};{Environment.NewLine}mismatch: {string.Join("; ", problems)}.", packet);
        }

        if (RemotePort == 0)
        {
            RemotePort = s.From.Port;
        }

        LastExpected = packet;
        return s;
    }

    /// <summary>Runs the simulation for <paramref name="duration"/> and fails as soon as the stack sends anything to the peer.</summary>
    public void ExpectNothing(TimeSpan duration, string? because = null)
    {
        TimeSpan start = Now;
        if (Next(duration) is CapturedPacket packet)
        {
            throw Failure($"Expected nothing for {FormatDelay(duration)} from {CapturedPacket.FormatTime(start)}{(because is null ? "" : " (" + because + ")")}; got {packet} after {FormatDelay(packet.At - start)}.", packet);
        }
    }

    /// <summary>Runs the simulation until a packet is queued for the peer or <paramref name="within"/> passes; returns and consumes it, or null.</summary>
    public CapturedPacket? Next(TimeSpan within)
    {
        if (_unconsumed.Count == 0)
        {
            _sim.TryRunUntil(() => _unconsumed.Count > 0, within);
        }

        return _unconsumed.TryDequeue(out CapturedPacket? packet) ? packet : null;
    }

    /// <summary>Runs the simulation for exactly <paramref name="duration"/> and returns (consuming) everything the stack sent meanwhile.</summary>
    public List<CapturedPacket> Collect(TimeSpan duration)
    {
        _sim.RunFor(duration);
        return TakePending();
    }

    /// <summary>Consumes and returns the packets queued so far without running the simulation.</summary>
    public List<CapturedPacket> TakePending()
    {
        var list = new List<CapturedPacket>(_unconsumed);
        _unconsumed.Clear();
        return list;
    }

    /// <summary>The last <paramref name="count"/> packets of the conversation, one per line.</summary>
    public string DescribeRecent(int count = 16)
    {
        var sb = new StringBuilder();
        foreach (CapturedPacket p in _log.Skip(Math.Max(0, _log.Count - count)))
        {
            sb.Append(Environment.NewLine).Append(p.Source == Address ? "  peer > " : "  peer < ").Append(p);
        }

        return sb.ToString();
    }

    private void OnFrame(ReadOnlySpan<byte> frame)
    {
        var packet = CapturedPacket.Decode(Now, frame);
        _log.Add(packet);
        _unconsumed.Enqueue(packet);
        _output?.WriteLine("peer < " + packet);
    }

    private XunitException Failure(string message, CapturedPacket? packet)
    {
        string recent = DescribeRecent();
        string more = _unconsumed.Count > 0 ? $"{Environment.NewLine}(and {_unconsumed.Count} more packets queued after it)" : "";
        return new XunitException($"{message}{more}{Environment.NewLine}Recent conversation (seed {_sim.Seed}):{recent}");
    }

    private static string DescribeExpectation(TcpFlags flags, uint? seq, uint? ack, ushort? window, string? optionsText, byte[]? payload, int? length, TimeSpan within, TimeSpan? at, TimeSpan tolerance, TcpFlags ignore)
    {
        var sb = new StringBuilder($"Flags [{CapturedSegment.FlagLetters(flags)}]");
        if (ignore != TcpFlags.None)
        {
            sb.Append($" (ignoring [{CapturedSegment.FlagLetters(ignore)}])");
        }

        if (seq is uint q)
        {
            sb.Append($", seq {q}");
        }

        if (ack is uint a)
        {
            sb.Append($", ack {a}");
        }

        if (window is ushort w)
        {
            sb.Append($", win {w}");
        }

        if (optionsText is not null)
        {
            sb.Append($", options where {optionsText}");
        }

        if (payload is not null)
        {
            sb.Append($", payload {Preview(payload)} ({payload.Length} bytes)");
        }

        if (length is int l)
        {
            sb.Append($", length {l}");
        }

        sb.Append(at is TimeSpan exact ? $", at +{FormatDelay(exact)}{(tolerance > TimeSpan.Zero ? $" ± {FormatDelay(tolerance)}" : "")}" : $", within {FormatDelay(within)}");
        return sb.ToString();
    }

    private static string FormatDelay(TimeSpan t) => t.TotalSeconds.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture) + "s";

    private static string Preview(byte[] data)
    {
        int n = Math.Min(data.Length, 16);
        string hex = Convert.ToHexString(data, 0, n).ToLowerInvariant();
        return data.Length > n ? hex + "..." : hex;
    }
}
