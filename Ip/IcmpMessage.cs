using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>Builders for the ICMPv4 messages a stack sends (RFC 792), checksum filled.</summary>
public static class IcmpMessage
{
    /// <summary>Writes an echo request or reply with <paramref name="data"/>; returns the message length.</summary>
    /// <exception cref="ArgumentException">A type other than echo, or a destination too small.</exception>
    public static int WriteEcho(Span<byte> destination, IcmpType type, ushort identifier, ushort sequenceNumber, scoped ReadOnlySpan<byte> data)
    {
        if (type is not (IcmpType.EchoRequest or IcmpType.EchoReply))
        {
            throw new ArgumentException("Echo messages are types 0 and 8.", nameof(type));
        }

        int length = IcmpEchoHeader.FixedLength + data.Length;
        Span<byte> message = Fit(destination, length);
        new IcmpEchoHeader { Type = type, Code = 0, Identifier = identifier, SequenceNumber = sequenceNumber }.WriteTo(message);
        data.CopyTo(message[IcmpEchoHeader.FixedLength..]);
        IcmpHeader.FillChecksum(message);
        return length;
    }

    /// <summary>
    /// Writes an error message (destination unreachable, time exceeded, parameter problem...)
    /// quoting <paramref name="offendingDatagram"/>: its IP header and the first
    /// <paramref name="quotedPayloadLength"/> bytes of its payload (RFC 792: 8; RFC 1812 4.3.2.3
    /// allows more). Returns the message length.
    /// </summary>
    /// <param name="destination">Where the ICMP message goes.</param>
    /// <param name="type">The error type.</param>
    /// <param name="code">The code for that type.</param>
    /// <param name="restOfHeader">The type-specific word (next-hop MTU in the low 16 bits for fragmentation needed, RFC 1191 4).</param>
    /// <param name="offendingDatagram">The datagram that caused the error, from its IP header on.</param>
    /// <param name="quotedPayloadLength">How many payload bytes to quote at most.</param>
    /// <exception cref="ArgumentException">An offending datagram whose IPv4 header is incomplete or invalid (Ipv4Header.TryReadHeader refuses it), or a destination too small.</exception>
    public static int WriteError(Span<byte> destination, IcmpType type, byte code, uint restOfHeader, scoped ReadOnlySpan<byte> offendingDatagram, int quotedPayloadLength = IcmpQuotedDatagram.GuaranteedPayloadLength)
    {
        // The datagram may be cut short after its header (a quote of a quote, a first fragment).
        if (!Ipv4Header.TryReadHeader(offendingDatagram, out Ipv4Header.Reader offending, out WireError error))
        {
            throw new ArgumentException($"The offending datagram must start with a complete IPv4 header: {error}", nameof(offendingDatagram));
        }

        int quoted = Math.Min(offendingDatagram.Length, offending.HeaderLength + Math.Max(0, quotedPayloadLength));
        int length = IcmpHeader.FixedLength + quoted;
        Span<byte> message = Fit(destination, length);
        new IcmpHeader { Type = type, Code = code, RestOfHeader = restOfHeader }.WriteTo(message);
        offendingDatagram[..quoted].CopyTo(message[IcmpHeader.FixedLength..]);
        IcmpHeader.FillChecksum(message);
        return length;
    }

    private static Span<byte> Fit(Span<byte> destination, int length) =>
        destination.Length >= length
            ? destination[..length]
            : throw new ArgumentException($"The message needs {length} bytes; the destination has {destination.Length}.", nameof(destination));
}
