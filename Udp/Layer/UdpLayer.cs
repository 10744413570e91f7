using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Udp;

/// <summary>
/// UDP (RFC 768) over IPv4 and IPv6 on one <see cref="NetworkStack"/>: the binding table (per family,
/// and dual-stack), demultiplexing of received datagrams to sockets, checksums (mandatory over
/// IPv6, RFC 8200 8.1), ICMP and ICMPv6 port unreachable for unbound ports, ICMP errors to the
/// sockets that caused them, and the counters. Made by <see cref="UdpStackExtensions.UseUdp"/>;
/// its callbacks run on the stack's loop.
/// </summary>
public sealed class UdpLayer : IIpTransport
{
    private readonly UdpPortTable<UdpSocket> _ports;
    private UdpSocket? _catchAll;

    // One datagram being built; only the loop uses it (SendDatagram copies before returning).
    private readonly byte[] _sendBuffer = new byte[UdpHeader.FixedLength + UdpPacket.MaxPayloadLengthIpv6];

    internal UdpLayer(NetworkStack stack, UdpOptions options)
    {
        Stack = stack;
        Options = options;
        _ports = new UdpPortTable<UdpSocket>(
            options.EphemeralPortFirst,
            options.EphemeralPortLast,
            options.Seed is { } seed ? new Random(seed) : new Random());
        Counters = new UdpCounters(options.Name ?? stack.Name);
    }

    /// <summary>The stack this layer runs on.</summary>
    public NetworkStack Stack { get; }

    /// <summary>The layer's settings.</summary>
    public UdpOptions Options { get; }

    /// <summary>The counters (<c>netstat -su</c>); also published on the <c>Protocols.Udp</c> meter.</summary>
    public UdpCounters Counters { get; }

    /// <summary>Number of bound sockets.</summary>
    public int SocketCount => _ports.Count;

    /// <inheritdoc/>
    public IpProtocol Protocol => IpProtocol.Udp;

    /// <inheritdoc/>
    public void OnDatagram(NetworkStack stack, in IpDatagram datagram)
    {
        UdpParseStatus status = UdpPacket.Parse(datagram.Payload, datagram.Source, datagram.Destination, datagram.ChecksumsVerifiedByDevice, out UdpHeader.Reader udp);
        switch (status)
        {
            case UdpParseStatus.Malformed:
                Counters.MalformedDatagrams++;
                Counters.InErrors++;
                return;
            case UdpParseStatus.BadChecksum:
                // RFC 1122 4.1.3.4: discard silently (and, as Linux, before looking for a socket,
                // so a corrupted datagram never draws a port unreachable).
                Counters.ChecksumErrors++;
                Counters.InErrors++;
                return;
        }

        var remote = new IpEndpoint(datagram.Source, udp.SourcePort);
        UdpSocket? socket = _ports.Lookup(datagram.Destination, udp.DestinationPort);
        if ((socket is null || !socket.Accepts(remote)) && !datagram.IsBroadcast
            && Volatile.Read(ref _catchAll) is { } catchAll && catchAll.Accepts(remote) && !stack.IsLocalAddress(datagram.Destination))
        {
            // Addressed elsewhere, taken by a transparent interface: the catch-all socket's.
            socket = catchAll;
        }

        if (socket is null || !socket.Accepts(remote))
        {
            // A connected socket takes only its peer's datagrams; others find no socket (Linux's
            // compute_score), so they are counted and answered as for an unbound port.
            if (datagram.IsBroadcast)
            {
                Counters.IgnoredBroadcasts++;
            }
            else
            {
                Counters.NoPorts++;

                // RFC 1122 4.1.3.1: SHOULD send port unreachable; the stack applies RFC 1122 3.2.2's
                // "never about broadcasts, ICMP errors or non-first fragments" and the rate limit.
                stack.SendIcmpDestinationUnreachable(in datagram, IcmpUnreachableCode.PortUnreachable);
            }

            return;
        }

        if (socket.Deliver(udp.Payload, remote, new IpEndpoint(datagram.Destination, udp.DestinationPort)))
        {
            Counters.DatagramsReceived++;
        }
        else
        {
            Counters.ReceiveBufferErrors++;
            Counters.InErrors++;
        }
    }

    /// <inheritdoc/>
    public void OnIcmpError(NetworkStack stack, in IcmpErrorInfo error)
    {
        Counters.IcmpErrorsReceived++;
        if (!UdpPacket.TryReadQuotedPorts(error.QuotedTransportHeader, out ushort localPort, out ushort remotePort)
            || !UdpIcmpErrors.TryClassify(error.Type, error.Code, out SocketError udpError, out bool hard))
        {
            return;
        }

        UdpSocket? socket = _ports.Lookup(error.QuotedSource, localPort);
        socket?.OnIcmpError(udpError, hard, new IpEndpoint(error.QuotedDestination, remotePort), error.ReportedBy);
    }

    /// <summary>Binds a socket; thread-safe (see <see cref="UdpPortTable{T}"/>).</summary>
    internal ushort Bind(UdpSocket socket, IpEndpoint local, bool dualStack)
    {
        if (!dualStack && local.Address.IsIpv6 && !Stack.HasIpv6)
        {
            throw new UdpException(SocketError.AddressFamilyNotSupported, $"Cannot bind {local}: the stack has no IPv6 interface.");
        }

        if (!local.Address.IsAny && !IsBindableAddress(local.Address))
        {
            throw new UdpException(SocketError.AddressNotAvailable, $"{local.Address} is not an address of this stack.");
        }

        if (_ports.TryBind(local.Address, local.Port, socket, out ushort port, dualStack) is { } error)
        {
            throw new UdpException(error, error == SocketError.AddressAlreadyInUse ? $"{local} is already in use." : null);
        }

        return port;
    }

    /// <summary>Makes <paramref name="socket"/> the catch-all socket; thread-safe.</summary>
    internal ushort BindCatchAll(UdpSocket socket)
    {
        if (Interlocked.CompareExchange(ref _catchAll, socket, null) is not null)
        {
            throw new UdpException(SocketError.AddressAlreadyInUse, "The layer has a catch-all socket already.");
        }

        return 0;
    }

    /// <summary>Releases a socket's binding; thread-safe.</summary>
    internal void Unbind(UdpSocket socket, IpEndpoint local, bool dualStack)
    {
        if (socket.IsCatchAll)
        {
            Interlocked.CompareExchange(ref _catchAll, null, socket);
            return;
        }

        _ports.Unbind(local.Address, local.Port, socket, dualStack);
    }

    /// <summary>Builds and sends one datagram; on the loop.</summary>
    /// <returns>Null when IP took it, else why not.</returns>
    internal SocketError? Send(IpEndpoint local, IpEndpoint remote, ReadOnlySpan<byte> payload, UdpSocketOptions options)
    {
        IpAddress source = local.Address;
        if (source.IsAny)
        {
            // The checksum covers the source address, so it must be known before IP picks it.
            if (Stack.RouteSourceFor(remote.Address) is not { } routed)
            {
                Counters.SendErrors++;
                return SocketError.NetworkUnreachable;
            }

            source = routed;
        }

        int length = UdpPacket.Write(_sendBuffer, new IpEndpoint(source, local.Port), remote, payload, options.ComputeChecksums);
        var request = new IpSendRequest(remote.Address, IpProtocol.Udp)
        {
            Source = source,
            Ttl = options.Ttl,
            DontFragment = options.DontFragment,
            Tos = options.TypeOfService,
        };
        SocketError? result = Stack.SendDatagram(in request, _sendBuffer.AsSpan(0, length)) switch
        {
            IpSendResult.Sent or IpSendResult.Queued => null,
            IpSendResult.NoRoute => SocketError.NetworkUnreachable,
            IpSendResult.MessageTooBig => SocketError.MessageSize,
            IpSendResult.QueueFull => SocketError.NoBufferSpaceAvailable,
            _ => SocketError.AddressNotAvailable,
        };
        if (result is null)
        {
            Counters.DatagramsSent++;
        }
        else
        {
            Counters.SendErrors++;
        }

        return result;
    }

    private bool IsBindableAddress(IpAddress address)
    {
        if (Stack.IsLocalAddress(address))
        {
            return true;
        }

        if (!address.TryGetIpv4(out Ipv4Address v4))
        {
            return false;
        }

        if (v4 == Ipv4Address.Broadcast)
        {
            return true;
        }

        foreach (NetworkInterface nic in Stack.Interfaces)
        {
            if (nic.HasIpv4 && nic.BroadcastAddress == v4)
            {
                return true;
            }
        }

        return false;
    }
}
