using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Protocols.Wire;

namespace Protocols.Ip;

public sealed partial class NetworkStack
{
    private double _icmpv6Tokens;
    private DateTimeOffset _icmpv6TokensAt;

    /// <summary>ICMPv6 input (RFC 4443 2.4): <paramref name="datagram"/> is validated and for us.</summary>
    private void OnIcmpv6(in IpDatagram datagram, ReadOnlySpan<byte> packet)
    {
        ReadOnlySpan<byte> message = datagram.Payload;
        Ipv6Address source = datagram.Source.ToIpv6();
        Ipv6Address destination = datagram.Destination.ToIpv6();

        // RFC 4443 2.3: the checksum covers the pseudo-header and the whole message; always checked here.
        if (!Icmpv6Header.TryRead(message, out Icmpv6Header.Reader icmp, out _))
        {
            Counters.Drop(DropReason.Truncated);
            return;
        }

        if (!icmp.VerifyChecksum(Icmpv6Message.PseudoHeaderSum(source, destination, message.Length)))
        {
            Counters.Icmpv6ChecksumErrors++;
            Counters.Drop(DropReason.BadChecksum);
            return;
        }

        Counters.Icmpv6In[message[0]]++;
        switch (icmp.Type)
        {
            case Icmpv6Type.EchoRequest:
                Counters.Ipv6Delivered++;
                SendEchoReply6(in datagram, message);
                return;

            case Icmpv6Type.DestinationUnreachable:
            case Icmpv6Type.PacketTooBig:
            case Icmpv6Type.TimeExceeded:
            case Icmpv6Type.ParameterProblem:
                OnIcmpv6Error(in datagram, icmp);
                return;

            case Icmpv6Type.RouterSolicitation:
            case Icmpv6Type.RouterAdvertisement:
            case Icmpv6Type.NeighborSolicitation:
            case Icmpv6Type.NeighborAdvertisement:
            case Icmpv6Type.Redirect:
                OnNdp(in datagram, icmp.Type, message);
                return;

            case Icmpv6Type.MulticastListenerQuery:
                OnMldQuery(in datagram, packet, message);
                return;

            case Icmpv6Type.MulticastListenerReport:
            case Icmpv6Type.MulticastListenerDone:
            case Icmpv6Type.MulticastListenerReportV2:
                // Other listeners' reports: a host has nothing to do with them (RFC 3810 6.1 drops report suppression).
                Counters.Drop(DropReason.NdpIgnored);
                return;
        }

        if ((byte)icmp.Type < 128)
        {
            // An error type this stack does not know: its transport could not act on it either.
            Counters.Drop(DropReason.IcmpIgnored);
            return;
        }

        // RFC 4443 2.4(a): unknown informational messages are discarded; echo replies and the like
        // go to an ICMPv6 transport (a ping client) when one is registered.
        IIpTransport? consumer = _transports[(byte)IpProtocol.Icmpv6];
        if (consumer is null)
        {
            Counters.Drop(DropReason.IcmpIgnored);
            return;
        }

        Counters.Ipv6Delivered++;
        try
        {
            consumer.OnDatagram(this, in datagram);
        }
        catch (Exception e)
        {
            CallbackFailed(e);
        }
    }

    /// <summary>
    /// RFC 4443 4.2: the reply echoes identifier, sequence number and data; from the request's
    /// destination when it is our unicast address, else (a multicast request, RFC 4443 4.2) from
    /// the address source selection picks.
    /// </summary>
    private void SendEchoReply6(in IpDatagram request, ReadOnlySpan<byte> message)
    {
        Span<byte> reply = _icmpBuffer.AsSpan(0, message.Length);
        message.CopyTo(reply);
        reply[0] = (byte)Icmpv6Type.EchoReply;
        reply[1] = 0;
        Ipv6Address to = request.Source.ToIpv6();
        Ipv6Address from = request.Destination.ToIpv6();
        if (from.IsMulticast)
        {
            if (request.Interface.Ipv6?.SelectSource(to) is not { } selected)
            {
                return;
            }

            from = selected;
        }

        BinaryPrimitives.WriteUInt16BigEndian(reply[2..], 0);
        Icmpv6Header.FillChecksum(reply, Icmpv6Message.PseudoHeaderSum(from, to, reply.Length));
        var send = new IpSendRequest(to, IpProtocol.Icmpv6) { Source = from };
        if (SendDatagram(in send, reply) is IpSendResult.Sent or IpSendResult.Queued)
        {
            Counters.Icmpv6Out[(byte)Icmpv6Type.EchoReply]++;
        }
    }

    /// <summary>A received ICMPv6 error: path MTU for packet too big, then the quoted flow's transport (RFC 4443 2.4(b)).</summary>
    private void OnIcmpv6Error(in IpDatagram datagram, Icmpv6Header.Reader icmp)
    {
        if (!Icmpv6QuotedPacket.TryRead(icmp.Payload, out Icmpv6QuotedPacket quote, out _))
        {
            Counters.Drop(DropReason.Malformed);
            return;
        }

        Ipv6Header.Reader quoted = quote.Header;
        if (!IsConfigured6(quoted.Source))
        {
            Counters.Drop(DropReason.IcmpErrorNotOurs);
            return;
        }

        ushort mtu = 0;
        if (icmp.Type == Icmpv6Type.PacketTooBig)
        {
            if (!OnPacketTooBig(quote, icmp.RestOfHeader, out mtu))
            {
                return;
            }
        }

        if (!quote.HasUpperLayer || quote.UpperLayerBytes.Length < 4)
        {
            // No transport header quoted (a non-first fragment, a cut quote): nothing more to tell anyone.
            Counters.Ipv6Delivered++;
            return;
        }

        IIpTransport? transport = _transports[(byte)quote.UpperLayer];
        if (transport is null)
        {
            Counters.Drop(DropReason.NoTransport);
            return;
        }

        (IcmpType type, byte code) = TranslateError(icmp.Type, icmp.Code);
        var info = new IcmpErrorInfo(type, code, mtu, datagram.Source, quoted.Source, quoted.Destination, quote.UpperLayer, quote.UpperLayerBytes, icmp.Type, icmp.Code);
        Counters.Ipv6Delivered++;
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
    /// RFC 8201 4: a packet too big lowers the path MTU of the quoted destination, never below
    /// 1280 (RFC 8200 5). It is believed only when it quotes a packet this stack sent: the quoted
    /// flow label must be the one <see cref="FlowLabel"/> gives that flow (a secret keyed hash, so an
    /// off-path forger must guess 20 bits), or, for a quote without the upper layer (a non-first
    /// fragment), at least the quoted source must be ours.
    /// </summary>
    private bool OnPacketTooBig(Icmpv6QuotedPacket quote, uint reportedMtu, out ushort mtu)
    {
        Ipv6Header.Reader quoted = quote.Header;
        mtu = (ushort)Math.Clamp(reportedMtu, Ipv6Packet.MinimumMtu, ushort.MaxValue);
        if (quote.HasUpperLayer)
        {
            uint expected = FlowLabel(quoted.Source, quoted.Destination, quote.UpperLayer, quote.UpperLayerBytes);
            if (quoted.FlowLabel != expected)
            {
                Counters.Drop(DropReason.PacketTooBigNotOurs);
                return false;
            }
        }

        if (!quote.HasUpperLayer || _transports[(byte)quote.UpperLayer] is not { ValidatesPacketTooBig: true })
        {
            LowerPathMtu(quoted.Destination, mtu);
        }

        return true;
    }

    /// <summary>
    /// Lowers the path MTU towards <paramref name="destination"/> to <paramref name="mtu"/> (never
    /// below 1280, RFC 8200 5; it rises again after <see cref="NetworkStackOptions.PathMtuTimeout"/>,
    /// RFC 8201 4): for transports that validate packet too big messages themselves
    /// (<see cref="IIpTransport.ValidatesPacketTooBig"/>). Call on the stack's loop.
    /// </summary>
    /// <param name="destination">The far end of the path.</param>
    /// <param name="mtu">The next-hop MTU reported.</param>
    /// <returns>True when the path MTU went down.</returns>
    public bool LowerPathMtu(Ipv6Address destination, int mtu)
    {
        mtu = Math.Clamp(mtu, Ipv6Packet.MinimumMtu, ushort.MaxValue);
        if (!_pathMtu.Lower(destination, mtu, Now))
        {
            return false;
        }

        Counters.PathMtuUpdates++;
        if (Logger.IsEnabled(LogLevel.Debug))
        {
            Logger.LogDebug("Path MTU to {Destination} is now {Mtu}", destination, mtu);
        }

        return true;
    }

    // ICMPv6 errors in ICMPv4's words, as transports act on them (what Linux's icmpv6_err_convert decides).
    private static (IcmpType Type, byte Code) TranslateError(Icmpv6Type type, byte code) => type switch
    {
        Icmpv6Type.PacketTooBig => (IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded),
        Icmpv6Type.TimeExceeded => (IcmpType.TimeExceeded, code),
        Icmpv6Type.ParameterProblem when code == (byte)Icmpv6ParameterProblemCode.UnrecognizedNextHeader
            => (IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.ProtocolUnreachable),
        Icmpv6Type.ParameterProblem => (IcmpType.ParameterProblem, 0),
        _ => (IcmpType.DestinationUnreachable, code switch
        {
            (byte)Icmpv6UnreachableCode.PortUnreachable => (byte)IcmpUnreachableCode.PortUnreachable,
            (byte)Icmpv6UnreachableCode.AdministrativelyProhibited or (byte)Icmpv6UnreachableCode.SourcePolicyFailed or (byte)Icmpv6UnreachableCode.RejectRoute
                => (byte)IcmpUnreachableCode.CommunicationAdministrativelyProhibited,
            _ => (byte)IcmpUnreachableCode.HostUnreachable,
        }),
    };

    /// <summary>
    /// Sends an ICMPv6 error quoting <paramref name="invoking"/> (an IPv6 packet from its header on),
    /// applying RFC 4443 2.4(e) (never about an ICMPv6 error or a redirect, a packet to a multicast
    /// address or sent as link-layer multicast unless <paramref name="allowMulticast"/> (packet too
    /// big, parameter problem code 2), a packet whose source is not a single node) and the rate
    /// limit of 2.4(f).
    /// </summary>
    internal bool SendIcmpv6Error(NetworkInterface nic, ReadOnlySpan<byte> invoking, bool multicast, Icmpv6Type type, byte code, uint restOfHeader, bool allowMulticast)
    {
        if (invoking.Length < Ipv6Header.FixedLength)
        {
            return false;
        }

        var source = Ipv6Address.Create(invoking[8..]);
        var destination = Ipv6Address.Create(invoking[24..]);
        bool forbidden = (multicast && !allowMulticast)
            || source.IsUnspecified || source.IsMulticast || source.IsLoopback
            || IsIcmpv6ErrorOrRedirect(invoking);
        if (forbidden)
        {
            Counters.Icmpv6ErrorsSuppressed++;
            return false;
        }

        if (!TakeIcmpv6ErrorToken())
        {
            Counters.Icmpv6RateLimited++;
            return false;
        }

        Ipv6Address? from = IsAssigned6(destination) ? destination : nic.Ipv6?.SelectSource(source);
        if (from is not { } f)
        {
            return false;
        }

        int length = Icmpv6Message.WriteError(_icmpBuffer, f, source, type, code, restOfHeader, invoking);
        var send = new IpSendRequest(source, IpProtocol.Icmpv6) { Source = f };
        if (SendDatagram(in send, _icmpBuffer.AsSpan(0, length)) is IpSendResult.Sent or IpSendResult.Queued)
        {
            Counters.Icmpv6Out[(byte)type]++;
            return true;
        }

        return false;
    }

    // RFC 4443 2.4(e.1) and (e.2): the invoking packet is an ICMPv6 error or a redirect. The
    // extension headers are skipped for their syntax only (the packet may be refused for one).
    private static bool IsIcmpv6ErrorOrRedirect(ReadOnlySpan<byte> packet)
    {
        if (!Icmpv6QuotedPacket.TryRead(packet, out Icmpv6QuotedPacket walk, out _, 0) || !walk.HasUpperLayer || walk.UpperLayer != IpProtocol.Icmpv6)
        {
            return false;
        }

        // No type to look at: treat it as an error, the conservative choice.
        return walk.UpperLayerBytes.IsEmpty || walk.UpperLayerBytes[0] < 128 || walk.UpperLayerBytes[0] == (byte)Icmpv6Type.Redirect;
    }

    /// <summary>The ICMPv6 error token bucket (RFC 4443 2.4(f)), separate from ICMPv4's, with the same rate and burst.</summary>
    private bool TakeIcmpv6ErrorToken()
    {
        DateTimeOffset now = Now;
        double elapsed = (now - _icmpv6TokensAt).TotalSeconds;
        if (elapsed > 0)
        {
            _icmpv6Tokens = Math.Min(Options.IcmpErrorBurst, _icmpv6Tokens + (elapsed * Options.IcmpErrorsPerSecond));
            _icmpv6TokensAt = now;
        }

        if (_icmpv6Tokens >= 1)
        {
            _icmpv6Tokens -= 1;
            return true;
        }

        return false;
    }

    /// <summary>Destination unreachable for an IPv6 packet (UDP port unreachable, RFC 4443 3.1).</summary>
    private bool SendIcmpv6DestinationUnreachable(in IpDatagram original, IcmpUnreachableCode code)
    {
        ReadOnlySpan<byte> header = original.Header;
        if (header.Length < Ipv6Header.FixedLength)
        {
            return false;
        }

        int quoted = Math.Min(original.Payload.Length, Icmpv6Message.MaxErrorMessageLength - Icmpv6Header.FixedLength - header.Length);
        Span<byte> invoking = stackalloc byte[Math.Max(0, header.Length + quoted)];
        header.CopyTo(invoking);
        original.Payload[..Math.Max(0, quoted)].CopyTo(invoking[header.Length..]);
        byte v6Code = code switch
        {
            IcmpUnreachableCode.PortUnreachable => (byte)Icmpv6UnreachableCode.PortUnreachable,
            IcmpUnreachableCode.NetUnreachable => (byte)Icmpv6UnreachableCode.NoRoute,
            IcmpUnreachableCode.CommunicationAdministrativelyProhibited => (byte)Icmpv6UnreachableCode.AdministrativelyProhibited,
            _ => (byte)Icmpv6UnreachableCode.AddressUnreachable,
        };
        return SendIcmpv6Error(original.Interface, invoking, original.IsBroadcast, Icmpv6Type.DestinationUnreachable, v6Code, 0, allowMulticast: false);
    }

    /// <summary>
    /// An IPv6 packet we originated could not be sent (neighbour resolution failed): its transport
    /// hears address unreachable reported by ourselves (RFC 4861 7.2.2, RFC 4443 3.1 code 3).
    /// </summary>
    private void ReportLocalUnreachable6(NetworkInterface nic, ReadOnlySpan<byte> packet)
    {
        if (!Ipv6Header.TryReadHeader(packet, out Ipv6Header.Reader ip, out _))
        {
            return;
        }

        Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(packet);
        if (chain.Status != Ipv6ChainStatus.UpperLayer || _transports[(byte)chain.NextHeader] is not { } transport)
        {
            return;
        }

        Ipv6Address source = ip.Source;
        Ipv6Address destination = ip.Destination;
        ReadOnlySpan<byte> upper = packet[chain.PayloadOffset..];
        var info = new IcmpErrorInfo(
            IcmpType.DestinationUnreachable,
            (byte)IcmpUnreachableCode.HostUnreachable,
            0,
            nic.Ipv6?.LinkLocalAddress is { } ll ? ll : source,
            source,
            destination,
            chain.NextHeader,
            upper[..Math.Min(upper.Length, Icmpv6Message.MaxErrorMessageLength)],
            Icmpv6Type.DestinationUnreachable,
            (byte)Icmpv6UnreachableCode.AddressUnreachable);
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
