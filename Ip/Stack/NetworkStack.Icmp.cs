using Microsoft.Extensions.Logging;
using Protocols.Wire;

namespace Protocols.Ip;

public sealed partial class NetworkStack
{
    private readonly byte[] _icmpBuffer = new byte[ushort.MaxValue];
    private double _icmpTokens;
    private DateTimeOffset _icmpTokensAt;

    /// <summary>
    /// Sends an ICMP (or, for an IPv6 packet, ICMPv6) destination unreachable about <paramref name="original"/> (e.g. port
    /// unreachable from UDP), unless RFC 1122 3.2.2 (RFC 4443 2.4(e)) forbids it (the original is an ICMP error, was
    /// sent to a broadcast or multicast address, is a non-first fragment, or comes from an address
    /// that is not a single host's) or the rate limit holds it back.
    /// </summary>
    /// <returns>True when the error was sent (or queued for ARP).</returns>
    public bool SendIcmpDestinationUnreachable(in IpDatagram original, IcmpUnreachableCode code)
    {
        if (original.IsIpv6)
        {
            // RFC 4443 3.1 with the equivalent ICMPv6 code, under RFC 4443 2.4(e) and (f).
            return SendIcmpv6DestinationUnreachable(in original, code);
        }

        ReadOnlySpan<byte> header = original.Header;
        if (header.Length < Ipv4Header.FixedLength)
        {
            return false;
        }

        return SendIcmpError(original.Interface, header, original.Payload, original.IsBroadcast, IcmpType.DestinationUnreachable, (byte)code, 0);
    }

    /// <summary>
    /// <see cref="SendIcmpError(NetworkInterface, ReadOnlySpan{byte}, bool, IcmpType, byte, uint)"/> for a
    /// datagram whose header and payload are apart: the quote must be contiguous, so the header
    /// and as much of the payload as the quote takes are copied together first.
    /// </summary>
    private bool SendIcmpError(NetworkInterface nic, ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload, bool broadcast, IcmpType type, byte code, uint restOfHeader)
    {
        int quoted = Math.Min(payload.Length, Math.Max(IcmpQuotedDatagram.GuaranteedPayloadLength, Options.IcmpErrorQuoteLimit - header.Length));
        int length = header.Length + quoted;
        Span<byte> offending = length <= 1024 ? stackalloc byte[1024] : new byte[length];
        offending = offending[..length];
        header.CopyTo(offending);
        payload[..quoted].CopyTo(offending[header.Length..]);
        return SendIcmpError(nic, offending, broadcast, type, code, restOfHeader);
    }

    /// <summary>ICMP input (RFC 792, RFC 1122 3.2.2). <paramref name="datagram"/> is validated and for us.</summary>
    private void OnIcmp(in IpDatagram datagram)
    {
        ReadOnlySpan<byte> message = datagram.Payload;
        if (!IcmpHeader.TryRead(message, out IcmpHeader.Reader icmp, out WireError error))
        {
            DropInvalid(datagram.Interface, in error);
            return;
        }

        // RFC 792: the checksum covers the whole ICMP message. Devices that verify checksums
        // cover TCP and UDP, so ICMP is always checked here.
        if (!icmp.VerifyChecksum())
        {
            Counters.ChecksumErrors++;
            Counters.Drop(DropReason.BadChecksum);
            return;
        }

        IcmpType type = icmp.Type;
        byte code = icmp.Code;
        Counters.IcmpIn[(byte)type]++;
        switch (type)
        {
            case IcmpType.EchoRequest:
                // RFC 1122 3.2.2.6: an echo request to a broadcast or multicast address MAY be
                // silently discarded; like Linux (icmp_echo_ignore_broadcasts = 1), it is.
                if (datagram.IsBroadcast)
                {
                    Counters.Drop(DropReason.IcmpIgnored);
                    return;
                }

                Counters.Delivered++;
                SendEchoReply(in datagram, message);
                return;

            case IcmpType.DestinationUnreachable:
            case IcmpType.TimeExceeded:
            case IcmpType.ParameterProblem:
                OnIcmpError(in datagram, type, code, message);
                return;

            case IcmpType.SourceQuench:
            // RFC 6633: hosts MUST silently ignore source quench.
            case IcmpType.Redirect:
                // RFC 1122 3.2.2.2 lets a host update its route cache; this stack's routes are
                // static (and redirects are a classic spoofing vector), so they are ignored.
                Counters.Drop(DropReason.IcmpIgnored);
                return;

            default:
                // Echo replies and other informational messages go to an ICMP transport (a ping
                // client) when one is registered.
                IIpTransport? consumer = _transports[(byte)IpProtocol.Icmp];
                if (consumer is null)
                {
                    Counters.Drop(DropReason.IcmpIgnored);
                    return;
                }

                Counters.Delivered++;
                try
                {
                    consumer.OnDatagram(this, in datagram);
                }
                catch (Exception e)
                {
                    CallbackFailed(e);
                }

                return;
        }
    }

    /// <summary>
    /// RFC 1122 3.2.2.6: the echo reply carries the request's identifier, sequence number and
    /// data, from the address the request was sent to.
    /// </summary>
    private void SendEchoReply(in IpDatagram request, ReadOnlySpan<byte> message)
    {
        Span<byte> reply = _icmpBuffer.AsSpan(0, message.Length);
        message.CopyTo(reply);
        var header = new IcmpEchoHeader.Writer(reply)
        {
            Type = IcmpType.EchoReply,
            Code = 0,
        };
        header.FillChecksum();
        var send = new IpSendRequest(request.Source, IpProtocol.Icmp) { Source = request.Destination };
        IpSendResult result = SendDatagram(in send, reply);
        if (result is IpSendResult.Sent or IpSendResult.Queued)
        {
            Counters.IcmpOut[(byte)IcmpType.EchoReply]++;
        }
    }

    /// <summary>A received ICMP error: find the quoted flow and tell its transport (RFC 1122 3.2.2, 4.1.3.3).</summary>
    private void OnIcmpError(in IpDatagram datagram, IcmpType type, byte code, ReadOnlySpan<byte> message)
    {
        if (!IcmpQuotedDatagram.TryRead(message[IcmpHeader.FixedLength..], out IcmpQuotedDatagram quote, out WireError error))
        {
            DropInvalid(datagram.Interface, in error, DropReason.Malformed);
            return;
        }

        Ipv4Header.Reader quoted = quote.Header;

        // Only errors about datagrams we sent, whose transport header is quoted (RFC 792: at
        // least 8 bytes, which a non-first fragment does not start with).
        if (!IsOurAddress(quoted.Source.ToUInt32()) || quoted.FragmentOffset != 0)
        {
            Counters.Drop(DropReason.IcmpErrorNotOurs);
            return;
        }

        if (quote.Payload.Length < IcmpQuotedDatagram.GuaranteedPayloadLength)
        {
            Counters.Drop(DropReason.Malformed);
            return;
        }

        IIpTransport? transport = _transports[(byte)quoted.Protocol];
        if (transport is null)
        {
            Counters.Drop(DropReason.NoTransport);
            return;
        }

        // RFC 1191 4: fragmentation needed carries the next-hop MTU in the low 16 bits.
        ushort nextHopMtu = code == (byte)IcmpUnreachableCode.FragmentationNeeded
            && IcmpDestinationUnreachableHeader.TryRead(message, out IcmpDestinationUnreachableHeader.Reader unreachable)
            ? unreachable.NextHopMtu
            : (ushort)0;
        var info = new IcmpErrorInfo(type, code, nextHopMtu, datagram.Source, quoted.Source, quoted.Destination, quoted.Protocol, quote.Payload);
        Counters.Delivered++;
        try
        {
            transport.OnIcmpError(this, in info);
        }
        catch (Exception e)
        {
            CallbackFailed(e);
        }
    }

    /// <summary>
    /// Sends an ICMP error quoting <paramref name="offending"/> (an IPv4 datagram from its header
    /// on, at least the header), applying RFC 1122 3.2.2's rules and the rate limit.
    /// </summary>
    internal bool SendIcmpError(NetworkInterface nic, ReadOnlySpan<byte> offending, bool broadcast, IcmpType type, byte code, uint restOfHeader)
    {
        // The offending datagram may be cut short (a quote, a first fragment): its header must be whole.
        if (!Ipv4Header.TryReadHeader(offending, out Ipv4Header.Reader ip, out _))
        {
            return false;
        }

        uint source = ip.Source.ToUInt32();
        uint destination = ip.Destination.ToUInt32();

        // RFC 1122 3.2.2: an ICMP error MUST NOT be sent about an ICMP error, a datagram to a
        // broadcast or multicast address (IP or link layer), a non-initial fragment, or a
        // datagram whose source does not define a single host.
        bool forbidden = broadcast
            || ip.FragmentOffset != 0
            || !IsValidUnicast(source) || IsSubnetBroadcast(source)
            || destination == LimitedBroadcast || (destination >> 28) == 0xe || IsSubnetBroadcast(destination)
            || (ip.Protocol == IpProtocol.Icmp && !IsIcmpQuery(ip.Payload));
        if (forbidden)
        {
            Counters.IcmpErrorsSuppressed++;
            return false;
        }

        if (!TakeIcmpErrorToken())
        {
            Counters.IcmpRateLimited++;
            return false;
        }

        int quotePayload = Math.Max(IcmpQuotedDatagram.GuaranteedPayloadLength, Options.IcmpErrorQuoteLimit - ip.HeaderLength);
        int length = IcmpMessage.WriteError(_icmpBuffer, type, code, restOfHeader, offending, quotePayload);
        uint from = IsOurAddress(destination) ? destination : nic.AddressValue;
        var send = new IpSendRequest(Ipv4Address.FromUInt32(source), IpProtocol.Icmp) { Source = Ipv4Address.FromUInt32(from) };
        IpSendResult result = SendDatagram(in send, _icmpBuffer.AsSpan(0, length));
        if (result is IpSendResult.Sent or IpSendResult.Queued)
        {
            Counters.IcmpOut[(byte)type]++;
            if (Logger.IsEnabled(LogLevel.Debug))
            {
                Logger.LogDebug("ICMP {Type} code {Code} to {Destination}", type, code, Ipv4Address.FromUInt32(source));
            }

            return true;
        }

        return false;
    }

    /// <summary>
    /// True when <paramref name="message"/> is an ICMP query (echo, timestamp...), not an error
    /// (RFC 1122 3.2.2). A message too short to have a header is treated as an error, the
    /// conservative choice: no error is sent about it.
    /// </summary>
    private static bool IsIcmpQuery(ReadOnlySpan<byte> message) =>
        IcmpHeader.TryRead(message, out IcmpHeader.Reader icmp)
        && icmp.Type is IcmpType.EchoReply or IcmpType.EchoRequest
            or IcmpType.RouterAdvertisement or IcmpType.RouterSolicitation
            or IcmpType.TimestampRequest or IcmpType.TimestampReply
            or IcmpType.InformationRequest or IcmpType.InformationReply;

    /// <summary>
    /// The token bucket limiting ICMP errors (RFC 1812 4.3.2.8, RFC 1122 3.2.2): refilled at
    /// <see cref="NetworkStackOptions.IcmpErrorsPerSecond"/>, at most <see cref="NetworkStackOptions.IcmpErrorBurst"/> deep.
    /// </summary>
    private bool TakeIcmpErrorToken()
    {
        DateTimeOffset now = Now;
        double elapsed = (now - _icmpTokensAt).TotalSeconds;
        if (elapsed > 0)
        {
            _icmpTokens = Math.Min(Options.IcmpErrorBurst, _icmpTokens + (elapsed * Options.IcmpErrorsPerSecond));
            _icmpTokensAt = now;
        }

        if (_icmpTokens >= 1)
        {
            _icmpTokens -= 1;
            return true;
        }

        return false;
    }

    /// <summary>
    /// A datagram we originated could not be sent (ARP resolution failed): its transport hears it
    /// as a host unreachable reported by ourselves, the way a kernel socket gets EHOSTUNREACH.
    /// </summary>
    internal void ReportLocalUnreachable(NetworkInterface nic, ReadOnlySpan<byte> datagram)
    {
        if (!Ipv4Header.TryReadHeader(datagram, out Ipv4Header.Reader ip, out WireError error))
        {
            // The version is the reader's first field check: an IPv6 packet fails it with version 6.
            if (error is { Kind: WireErrorKind.InvalidValue, Field: nameof(Ipv4Header.Version), Actual: 6 })
            {
                ReportLocalUnreachable6(nic, datagram);
            }

            return;
        }

        IIpTransport? transport = _transports[(byte)ip.Protocol];
        if (transport is null || ip.FragmentOffset != 0)
        {
            return;
        }

        ReadOnlySpan<byte> payload = ip.Payload;
        var info = new IcmpErrorInfo(
            IcmpType.DestinationUnreachable,
            (byte)IcmpUnreachableCode.HostUnreachable,
            0,
            nic.Address,
            ip.Source,
            ip.Destination,
            ip.Protocol,
            payload[..Math.Min(payload.Length, Options.IcmpErrorQuoteLimit)]);
        try
        {
            transport.OnIcmpError(this, in info);
        }
        catch (Exception e)
        {
            CallbackFailed(e);
        }
    }
}
