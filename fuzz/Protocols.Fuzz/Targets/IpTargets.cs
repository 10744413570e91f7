using Protocols.Ip;
using Protocols.Ip.Fragmentation;
using Protocols.Wire;

namespace Protocols.Fuzz.Targets;

/// <summary>IPv4 (RFC 791) and ICMPv4 (RFC 792) readers, the quoted datagram of ICMP errors, and re-fragmentation.</summary>
internal static class IpTargets
{
    private static readonly List<HexAnnotation> Annotations = [];
    private static readonly byte[] Scratch = new byte[65536];
    private static readonly byte[] Fragment = new byte[65536];

    public static void Ipv4(ReadOnlySpan<byte> input)
    {
        bool ok = Ipv4Header.TryRead(input, out Ipv4Header.Reader r, out WireError e);
        bool fast = Ipv4Header.TryRead(input, out _);
        bool okHeader = Ipv4Header.TryReadHeader(input, out Ipv4Header.Reader h, out WireError eh);
        ReaderChecks.Agree(Ipv4Header.LayerName, Ipv4Header.FixedLength, input, fast,
            new(ok, e, r.Bytes, r.HeaderLength, r.DeclaredLength, r.IsTruncated, r.Header, r.Options, r.Payload),
            new(okHeader, eh, h.Bytes, h.HeaderLength, h.DeclaredLength, h.IsTruncated, h.Header, h.Options, h.Payload));
        if (okHeader)
        {
            Check.Equal(h.Ihl * 4, h.HeaderLength, "IPv4: header length is IHL x 4");
            Check.True(h.Version == 4, "IPv4: version other than 4 accepted");
            _ = Ipv4OptionReader.Validate(h.Options, out _);
            Annotations.Clear();
            Ipv4Header.Annotate(h.Header, 0, Annotations);
            Ipv4OptionReader.Annotate(h.Options, Ipv4Header.FixedLength, Annotations);
        }

        if (!ok)
        {
            return;
        }

        Span<byte> written = stackalloc byte[Ipv4Header.FixedLength];
        r.ToValue().WriteTo(written);
        ReaderChecks.RoundTrip(Ipv4Header.LayerName, input, written);
        Check.Equal(r.TotalLength, r.Bytes.Length, "IPv4: message length is the total length");
        _ = r.ToString();

        // RFC 1071: a filled checksum verifies; RFC 1624: so does one updated incrementally.
        Span<byte> header = Scratch.AsSpan(0, r.HeaderLength);
        r.Header.CopyTo(header);
        Ipv4Header.FillChecksum(header);
        Check.True(Ipv4Header.VerifyChecksum(header), "IPv4: filled checksum does not verify");
        var writer = new Ipv4Header.Writer(header);
        writer.SetTtlUpdatingChecksum((byte)~r.Ttl);
        writer.SetIdentificationUpdatingChecksum((ushort)(r.Identification ^ 0x5a5a));
        Check.True(Ipv4Header.VerifyChecksum(header), "IPv4: checksum updated with RFC 1624 does not verify");

        Refragment(r, input.Length > 0 ? input[^1] : (byte)0);
    }

    /// <summary>
    /// RFC 791 3.2: cutting a whole datagram to an MTU and reassembling the pieces gives it back;
    /// every piece is a valid IPv4 packet that fits the MTU.
    /// </summary>
    private static void Refragment(in Ipv4Header.Reader datagram, byte mtuChoice)
    {
        if (datagram.MoreFragments || datagram.FragmentOffset != 0 || !Ipv4OptionReader.Validate(datagram.Options, out _))
        {
            return;
        }

        int mtu = Ipv4Fragmenter.MinimumMtu + (mtuChoice * 8);
        FragmentationStatus status = Ipv4Fragmenter.TryCreateFromDatagram(datagram.Bytes, mtu, out Ipv4Fragmenter fragmenter);
        if (status != FragmentationStatus.Success)
        {
            Check.True(status == FragmentationStatus.MessageTooBig && datagram.DontFragment, $"IPv4: re-fragmenting a valid datagram at MTU {mtu}: {status}");
            return;
        }

        using var reassembler = new Ipv4Reassembler();
        DateTimeOffset now = DateTimeOffset.UnixEpoch;
        int pieces = 0;
        bool completed = false;
        while (fragmenter.TryWriteNext(Fragment, out int length))
        {
            pieces++;
            Check.True(length <= mtu, $"IPv4: fragment of {length} bytes at MTU {mtu}");
            Check.True(Ipv4Header.TryRead(Fragment.AsSpan(0, length), out Ipv4Header.Reader piece, out WireError error), $"IPv4: fragment {pieces} does not parse: {error}");
            Check.True(piece.VerifyChecksum(), $"IPv4: fragment {pieces} has a bad checksum");
            Check.True(!completed, "IPv4: reassembly completed before the last fragment");
            if (fragmenter.FragmentCount == 1)
            {
                // A datagram that fits goes as it is, its header checksum filled.
                Check.Equal(datagram.Bytes[..10], piece.Bytes[..10], "IPv4: a datagram that fits is sent unchanged");
                Check.Equal(datagram.Bytes[12..], piece.Bytes[12..], "IPv4: a datagram that fits is sent unchanged");
                continue;
            }

            ReassemblyStatus result = reassembler.Offer(piece, now, out ReassemblyResult outcome);
            Check.True(result != ReassemblyStatus.Dropped, $"IPv4: reassembly dropped fragment {pieces}: {outcome.Reason}");
            if (result == ReassemblyStatus.Completed)
            {
                completed = true;
                using ReassembledDatagram whole = outcome.Datagram!;
                Check.Equal(datagram.Payload, whole.Payload, "IPv4: reassembled payload");
                Check.Equal(datagram.Options, whole.Options, "IPv4: reassembled options");
            }
        }

        Check.Equal(fragmenter.FragmentCount, pieces, "IPv4: fragments written");
        Check.True(completed || pieces == 1, "IPv4: the fragments did not reassemble");
    }

    public static void Icmp(ReadOnlySpan<byte> input)
    {
        bool ok = IcmpHeader.TryRead(input, out IcmpHeader.Reader r, out WireError e);
        bool fast = IcmpHeader.TryRead(input, out _);
        bool okHeader = IcmpHeader.TryReadHeader(input, out IcmpHeader.Reader h, out WireError eh);
        ReaderChecks.Agree(IcmpHeader.LayerName, IcmpHeader.FixedLength, input, fast,
            new(ok, e, r.Bytes, r.HeaderLength, r.DeclaredLength, r.IsTruncated, r.Header, r.Options, r.Payload),
            new(okHeader, eh, h.Bytes, h.HeaderLength, h.DeclaredLength, h.IsTruncated, h.Header, h.Options, h.Payload));
        if (!ok)
        {
            return;
        }

        Span<byte> written = stackalloc byte[IcmpHeader.FixedLength];
        r.ToValue().WriteTo(written);
        ReaderChecks.RoundTrip(IcmpHeader.LayerName, input, written);
        _ = r.ToString();
        Annotations.Clear();
        IcmpHeader.Annotate(r.Header, 0, Annotations);

        // RFC 792: the checksum covers the whole message; filled then updated (RFC 1624) it verifies.
        Span<byte> message = Scratch.AsSpan(0, input.Length);
        input.CopyTo(message);
        IcmpHeader.FillChecksum(message);
        Check.True(IcmpHeader.VerifyChecksum(message), "ICMP: filled checksum does not verify");
        new IcmpHeader.Writer(message).SetCodeUpdatingChecksum((byte)(r.Code + 1));
        Check.True(IcmpHeader.VerifyChecksum(message), "ICMP: checksum updated with RFC 1624 does not verify");

        // The typed views read the same eight bytes.
        switch (r.Type)
        {
            case IcmpType.EchoRequest or IcmpType.EchoReply:
                Check.True(IcmpEchoHeader.TryRead(input, out IcmpEchoHeader.Reader echo, out _), "ICMP: echo view refused");
                Typed(input, IcmpEchoHeader.TryRead(input, out _), IcmpEchoHeader.TryReadHeader(input, out IcmpEchoHeader.Reader echoLax, out WireError echoError),
                    new(true, default, echo.Bytes, echo.HeaderLength, echo.DeclaredLength, echo.IsTruncated, echo.Header, echo.Options, echo.Payload),
                    new(true, echoError, echoLax.Bytes, echoLax.HeaderLength, echoLax.DeclaredLength, echoLax.IsTruncated, echoLax.Header, echoLax.Options, echoLax.Payload));
                Check.Equal(r.RestOfHeader, ((uint)echo.Identifier << 16) | echo.SequenceNumber, "ICMP: echo identifier and sequence");
                _ = echo.ToString();
                break;
            case IcmpType.DestinationUnreachable:
                Check.True(IcmpDestinationUnreachableHeader.TryRead(input, out IcmpDestinationUnreachableHeader.Reader unreachable, out _), "ICMP: unreachable view refused");
                Typed(input, IcmpDestinationUnreachableHeader.TryRead(input, out _), IcmpDestinationUnreachableHeader.TryReadHeader(input, out IcmpDestinationUnreachableHeader.Reader unreachableLax, out WireError unreachableError),
                    new(true, default, unreachable.Bytes, unreachable.HeaderLength, unreachable.DeclaredLength, unreachable.IsTruncated, unreachable.Header, unreachable.Options, unreachable.Payload),
                    new(true, unreachableError, unreachableLax.Bytes, unreachableLax.HeaderLength, unreachableLax.DeclaredLength, unreachableLax.IsTruncated, unreachableLax.Header, unreachableLax.Options, unreachableLax.Payload));
                Check.Equal((ushort)r.RestOfHeader, unreachable.NextHopMtu, "ICMP: next-hop MTU");
                _ = unreachable.ToString();
                Quote(r.Payload);
                break;
            case IcmpType.TimeExceeded:
                Check.True(IcmpTimeExceededHeader.TryRead(input, out IcmpTimeExceededHeader.Reader exceeded, out _), "ICMP: time exceeded view refused");
                _ = exceeded.ToString();
                Quote(r.Payload);
                break;
            case IcmpType.Redirect:
                Check.True(IcmpRedirectHeader.TryRead(input, out IcmpRedirectHeader.Reader redirect, out _), "ICMP: redirect view refused");
                Check.Equal(r.RestOfHeader, redirect.Gateway.ToUInt32(), "ICMP: redirect gateway");
                _ = redirect.ToString();
                Quote(r.Payload);
                break;
            case IcmpType.ParameterProblem:
                Check.True(IcmpParameterProblemHeader.TryRead(input, out IcmpParameterProblemHeader.Reader problem, out _), "ICMP: parameter problem view refused");
                Check.Equal((byte)(r.RestOfHeader >> 24), problem.Pointer, "ICMP: parameter problem pointer");
                _ = problem.ToString();
                Quote(r.Payload);
                break;
            default:
                Quote(r.Payload);
                break;
        }
    }

    /// <summary>A typed ICMP view accepts what <see cref="IcmpHeader"/> accepted, with the same contract.</summary>
    private static void Typed(ReadOnlySpan<byte> input, bool okWithoutError, bool laxOk, in ReadOutcome strict, in ReadOutcome lax)
    {
        Check.True(laxOk, $"ICMP: the typed view's TryReadHeader refused ({lax.Error})");
        ReaderChecks.Agree(IcmpHeader.LayerName, IcmpHeader.FixedLength, input, okWithoutError, strict, lax);
    }

    /// <summary>RFC 792 / RFC 1812 4.3.2.3: the quoted datagram of an error, read leniently (it is cut short).</summary>
    private static void Quote(ReadOnlySpan<byte> payload)
    {
        if (!IcmpQuotedDatagram.TryRead(payload, out IcmpQuotedDatagram quote, out WireError error))
        {
            Check.True(error.IsError, "ICMP: a refused quote has no error");
            return;
        }

        Check.True(quote.HeaderBytes.Length >= Ipv4Header.FixedLength && quote.HeaderBytes.Length <= payload.Length, "ICMP: quoted header outside the payload");
        Check.True(Check.Within(payload, quote.Payload), "ICMP: quoted payload outside the message");
        Check.True(quote.OriginalPayloadLength >= 0, $"ICMP: quoted datagram declares {quote.OriginalPayloadLength} payload bytes");
        _ = Ipv4OptionReader.Validate(quote.Options, out _);

        // The quoted datagram written back as an ICMP error reads the same.
        int length = IcmpMessage.WriteError(Scratch, IcmpType.DestinationUnreachable, 4, 1280, payload[..(quote.HeaderBytes.Length + quote.Payload.Length)], quote.Payload.Length);
        Check.True(IcmpHeader.TryRead(Scratch.AsSpan(0, length), out IcmpHeader.Reader again, out WireError againError), $"ICMP: a written error does not parse: {againError}");
        Check.True(again.VerifyChecksum(), "ICMP: a written error has a bad checksum");
        Check.True(IcmpQuotedDatagram.TryRead(again.Payload, out IcmpQuotedDatagram requoted, out WireError requoteError), $"ICMP: a written quote does not parse: {requoteError}");
        Check.Equal(quote.HeaderBytes, requoted.HeaderBytes, "ICMP: re-quoted header");
        Check.Equal(quote.Payload, requoted.Payload, "ICMP: re-quoted payload");
    }
}
