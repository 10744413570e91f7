using System.Buffers.Binary;
using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// Builders for the ICMPv6 messages a stack sends (RFC 4443, RFC 4861, RFC 3810), checksum filled
/// over the IPv6 pseudo-header of the given addresses (RFC 4443 2.3).
/// </summary>
public static class Icmpv6Message
{
    /// <summary>The most an error message may take so that the packet carrying it fits the minimum MTU: 1280 - 40 (RFC 4443 2.4(c)).</summary>
    public const int MaxErrorMessageLength = Ipv6Packet.MinimumMtu - Ipv6Header.FixedLength;

    /// <summary>The length of a link-layer address option on Ethernet.</summary>
    public const int LinkLayerAddressOptionLength = 8;

    /// <summary>Writes an echo request or reply with <paramref name="data"/>; returns the message length.</summary>
    /// <exception cref="ArgumentException">A type other than echo, or a destination too small.</exception>
    public static int WriteEcho(Span<byte> destination, Ipv6Address source, Ipv6Address to, Icmpv6Type type, ushort identifier, ushort sequenceNumber, scoped ReadOnlySpan<byte> data)
    {
        if (type is not (Icmpv6Type.EchoRequest or Icmpv6Type.EchoReply))
        {
            throw new ArgumentException("Echo messages are types 128 and 129.", nameof(type));
        }

        int length = Icmpv6EchoHeader.FixedLength + data.Length;
        Span<byte> message = Fit(destination, length);
        new Icmpv6EchoHeader { Type = type, Identifier = identifier, SequenceNumber = sequenceNumber }.WriteTo(message);
        data.CopyTo(message[Icmpv6EchoHeader.FixedLength..]);
        return Finish(message, source, to);
    }

    /// <summary>
    /// Writes an error message (destination unreachable, packet too big, time exceeded, parameter
    /// problem) quoting as much of <paramref name="invokingPacket"/> as fits in
    /// <see cref="MaxErrorMessageLength"/> (RFC 4443 2.4(c)). Returns the message length.
    /// </summary>
    /// <param name="destination">Where the message goes.</param>
    /// <param name="source">The error's source address (for the checksum).</param>
    /// <param name="to">The error's destination: the invoking packet's source.</param>
    /// <param name="type">An error type (below 128).</param>
    /// <param name="code">The code for that type.</param>
    /// <param name="restOfHeader">The MTU (packet too big), the pointer (parameter problem), else 0.</param>
    /// <param name="invokingPacket">The packet that caused the error, from its IPv6 header on.</param>
    /// <exception cref="ArgumentException">Not an error type, an invoking packet shorter than an IPv6 header, or a destination too small.</exception>
    public static int WriteError(Span<byte> destination, Ipv6Address source, Ipv6Address to, Icmpv6Type type, byte code, uint restOfHeader, scoped ReadOnlySpan<byte> invokingPacket)
    {
        if ((byte)type >= 128)
        {
            throw new ArgumentException("ICMPv6 error types are below 128.", nameof(type));
        }

        if (invokingPacket.Length < Ipv6Header.FixedLength)
        {
            throw new ArgumentException("The invoking packet must start with a complete IPv6 header.", nameof(invokingPacket));
        }

        int quoted = Math.Min(invokingPacket.Length, MaxErrorMessageLength - Icmpv6Header.FixedLength);
        int length = Icmpv6Header.FixedLength + quoted;
        Span<byte> message = Fit(destination, length);
        new Icmpv6Header { Type = type, Code = code, RestOfHeader = restOfHeader }.WriteTo(message);
        invokingPacket[..quoted].CopyTo(message[Icmpv6Header.FixedLength..]);
        return Finish(message, source, to);
    }

    /// <summary>
    /// Writes a neighbour solicitation for <paramref name="target"/> (RFC 4861 4.3), with a source
    /// link-layer address option when <paramref name="sourceLinkLayerAddress"/> is given (never in
    /// duplicate address detection, whose source is ::, RFC 4861 7.2.2, RFC 4862 5.4.2).
    /// </summary>
    /// <returns>The message length: 24, or 32 with the option.</returns>
    public static int WriteNeighborSolicitation(Span<byte> destination, Ipv6Address source, Ipv6Address to, Ipv6Address target, MacAddress? sourceLinkLayerAddress)
    {
        int length = NdpNeighborSolicitationHeader.FixedLength + (sourceLinkLayerAddress is null ? 0 : LinkLayerAddressOptionLength);
        Span<byte> message = Fit(destination, length);
        new NdpNeighborSolicitationHeader { TargetAddress = target }.WriteTo(message);
        if (sourceLinkLayerAddress is { } mac)
        {
            WriteLinkLayerAddressOption(message[NdpNeighborSolicitationHeader.FixedLength..], NdpOptionType.SourceLinkLayerAddress, mac);
        }

        return Finish(message, source, to);
    }

    /// <summary>
    /// Writes the neighbour solicitation of duplicate address detection (RFC 4862 5.4.2): from the
    /// unspecified address to the target's solicited-node group, no source link-layer address,
    /// with a nonce option (RFC 7527 4.1, RFC 3971 5.3.2) that tells our own solicitation looped
    /// back by the medium from another node's.
    /// </summary>
    /// <returns>The message length: 32.</returns>
    public static int WriteDadSolicitation(Span<byte> destination, Ipv6Address target, ulong nonce)
    {
        int length = NdpNeighborSolicitationHeader.FixedLength + 8;
        Span<byte> message = Fit(destination, length);
        new NdpNeighborSolicitationHeader { TargetAddress = target }.WriteTo(message);
        Span<byte> option = message[NdpNeighborSolicitationHeader.FixedLength..];
        new NdpOptionHeader { Type = NdpOptionType.Nonce, Length = 1 }.WriteTo(option);
        for (int i = 0; i < 6; i++)
        {
            option[2 + i] = (byte)(nonce >> (40 - (8 * i)));
        }

        return Finish(message, Ipv6Address.Any, target.SolicitedNode);
    }

    /// <summary>Writes a neighbour advertisement for <paramref name="target"/> (RFC 4861 4.4) with a target link-layer address option when given.</summary>
    /// <returns>The message length: 24, or 32 with the option.</returns>
    public static int WriteNeighborAdvertisement(Span<byte> destination, Ipv6Address source, Ipv6Address to, Ipv6Address target, bool router, bool solicited, bool @override, MacAddress? targetLinkLayerAddress)
    {
        int length = NdpNeighborAdvertisementHeader.FixedLength + (targetLinkLayerAddress is null ? 0 : LinkLayerAddressOptionLength);
        Span<byte> message = Fit(destination, length);
        new NdpNeighborAdvertisementHeader { Router = router, Solicited = solicited, Override = @override, TargetAddress = target }.WriteTo(message);
        if (targetLinkLayerAddress is { } mac)
        {
            WriteLinkLayerAddressOption(message[NdpNeighborAdvertisementHeader.FixedLength..], NdpOptionType.TargetLinkLayerAddress, mac);
        }

        return Finish(message, source, to);
    }

    /// <summary>Writes a router solicitation (RFC 4861 4.1), with a source link-layer address option when given (not from ::, RFC 4861 4.1).</summary>
    /// <returns>The message length: 8, or 16 with the option.</returns>
    public static int WriteRouterSolicitation(Span<byte> destination, Ipv6Address source, Ipv6Address to, MacAddress? sourceLinkLayerAddress)
    {
        int length = NdpRouterSolicitationHeader.FixedLength + (sourceLinkLayerAddress is null ? 0 : LinkLayerAddressOptionLength);
        Span<byte> message = Fit(destination, length);
        new NdpRouterSolicitationHeader().WriteTo(message);
        if (sourceLinkLayerAddress is { } mac)
        {
            WriteLinkLayerAddressOption(message[NdpRouterSolicitationHeader.FixedLength..], NdpOptionType.SourceLinkLayerAddress, mac);
        }

        return Finish(message, source, to);
    }

    /// <summary>
    /// Writes a router advertisement (RFC 4861 4.2) whose options are <paramref name="options"/>,
    /// already encoded (see <see cref="WritePrefixInformationOption"/>, <see cref="WriteMtuOption"/>,
    /// <see cref="WriteLinkLayerAddressOption"/>, <see cref="WriteRdnssOption"/>). For routers in tests and tools.
    /// </summary>
    /// <returns>The message length.</returns>
    public static int WriteRouterAdvertisement(Span<byte> destination, Ipv6Address source, Ipv6Address to, NdpRouterAdvertisementHeader header, scoped ReadOnlySpan<byte> options)
    {
        int length = NdpRouterAdvertisementHeader.FixedLength + options.Length;
        Span<byte> message = Fit(destination, length);
        header.WriteTo(message);
        options.CopyTo(message[NdpRouterAdvertisementHeader.FixedLength..]);
        return Finish(message, source, to);
    }

    /// <summary>
    /// Writes an MLDv2 report (RFC 3810 5.2) with one record per address in <paramref name="groups"/>,
    /// each of <paramref name="recordType"/> and no sources: a join is <see cref="MldRecordType.ChangeToExclude"/>
    /// (or <see cref="MldRecordType.ModeIsExclude"/> answering a query), a leave <see cref="MldRecordType.ChangeToInclude"/>.
    /// </summary>
    /// <returns>The message length: 8 + 20 per group.</returns>
    public static int WriteMldv2Report(Span<byte> destination, Ipv6Address source, Ipv6Address to, MldRecordType recordType, scoped ReadOnlySpan<Ipv6Address> groups)
    {
        if (groups.Length > ushort.MaxValue)
        {
            throw new ArgumentException("Too many records.", nameof(groups));
        }

        int length = Mldv2ReportHeader.FixedLength + (groups.Length * MldAddressRecordHeader.FixedLength);
        Span<byte> message = Fit(destination, length);
        new Mldv2ReportHeader { NumberOfRecords = (ushort)groups.Length }.WriteTo(message);
        for (int i = 0; i < groups.Length; i++)
        {
            new MldAddressRecordHeader { RecordType = recordType, MulticastAddress = groups[i] }
                .WriteTo(message[(Mldv2ReportHeader.FixedLength + (i * MldAddressRecordHeader.FixedLength))..]);
        }

        return Finish(message, source, to);
    }

    /// <summary>Writes a source or target link-layer address option for Ethernet (RFC 4861 4.6.1); returns 8.</summary>
    public static int WriteLinkLayerAddressOption(Span<byte> destination, NdpOptionType type, MacAddress address) =>
        new NdpLinkLayerAddressOption { Type = type, Length = 1, LinkLayerAddress = address }.WriteTo(destination);

    /// <summary>Writes a prefix information option (RFC 4861 4.6.2); returns 32.</summary>
    public static int WritePrefixInformationOption(Span<byte> destination, Ipv6Address prefix, byte prefixLength, bool onLink, bool autonomous, uint validLifetime, uint preferredLifetime) =>
        new NdpPrefixInformationOption
        {
            PrefixLength = prefixLength,
            OnLink = onLink,
            Autonomous = autonomous,
            ValidLifetime = validLifetime,
            PreferredLifetime = preferredLifetime,
            Prefix = prefix,
        }.WriteTo(destination);

    /// <summary>Writes an MTU option (RFC 4861 4.6.4); returns 8.</summary>
    public static int WriteMtuOption(Span<byte> destination, uint mtu) => new NdpMtuOption { Mtu = mtu }.WriteTo(destination);

    /// <summary>Writes a recursive DNS server option (RFC 8106 5.1); returns 8 + 16 per server.</summary>
    /// <exception cref="ArgumentException">No server, too many for one option, or a destination too small.</exception>
    public static int WriteRdnssOption(Span<byte> destination, uint lifetime, scoped ReadOnlySpan<Ipv6Address> servers)
    {
        if (servers.IsEmpty || servers.Length > 127)
        {
            throw new ArgumentException("An RDNSS option carries 1 to 127 servers.", nameof(servers));
        }

        int length = NdpRdnssOption.FixedLength + (servers.Length * 16);
        Span<byte> option = Fit(destination, length);
        new NdpRdnssOption { Length = (byte)(length / 8), Lifetime = lifetime }.WriteTo(option);
        for (int i = 0; i < servers.Length; i++)
        {
            ((ReadOnlySpan<byte>)servers[i]).CopyTo(option[(NdpRdnssOption.FixedLength + (i * 16))..]);
        }

        return length;
    }

    /// <summary>The pseudo-header sum of an ICMPv6 message of <paramref name="length"/> bytes between two addresses (RFC 4443 2.3).</summary>
    public static uint PseudoHeaderSum(Ipv6Address source, Ipv6Address destination, int length) =>
        Checksum.PseudoHeaderSum(source, destination, (byte)IpProtocol.Icmpv6, length);

    private static int Finish(Span<byte> message, Ipv6Address source, Ipv6Address to)
    {
        BinaryPrimitives.WriteUInt16BigEndian(message[2..], 0);
        Icmpv6Header.FillChecksum(message, PseudoHeaderSum(source, to, message.Length));
        return message.Length;
    }

    private static Span<byte> Fit(Span<byte> destination, int length) =>
        destination.Length >= length
            ? destination[..length]
            : throw new ArgumentException($"The message needs {length} bytes; the destination has {destination.Length}.", nameof(destination));
}
