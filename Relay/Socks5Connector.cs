using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Relay;

/// <summary>
/// Relays through a SOCKS5 proxy (RFC 1928) without authentication: CONNECT for TCP, UDP
/// ASSOCIATE for UDP (one association per flow, living as long as its control connection). The
/// proxy's reply codes become the outbound errors the client is told about (RFC 1928 6: 3 network
/// unreachable, 4 host unreachable, 5 connection refused). The sockets to the proxy go out through
/// <see cref="Sockets"/> (so they may be bound to an interface or marked).
/// </summary>
public sealed class Socks5Connector(IpEndpoint proxy) : IOutboundConnector
{
    private const byte Version = 5;
    private const byte NoAuthentication = 0;
    private const byte CommandConnect = 1;
    private const byte CommandUdpAssociate = 3;
    private const byte AddressIpv4 = 1;
    private const byte AddressDomain = 3;
    private const byte AddressIpv6 = 4;

    /// <summary>The proxy.</summary>
    public IpEndpoint Proxy { get; } = proxy;

    /// <summary>Makes the sockets to the proxy (interface binding, mark, timeout).</summary>
    public DirectConnector Sockets { get; init; } = new();

    /// <summary>How long the greeting and request may take.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <inheritdoc/>
    public async Task<OutboundConnection> ConnectAsync(IpEndpoint destination, CancellationToken cancellationToken)
    {
        var control = (DirectConnector.SocketConnection)await ConnectToProxyAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await RequestAsync(control, CommandConnect, destination, cancellationToken).ConfigureAwait(false);
            return control;
        }
        catch
        {
            control.Abort();
            throw;
        }
    }

    /// <inheritdoc/>
    public async Task<OutboundDatagramFlow> OpenUdpAsync(IpEndpoint destination, CancellationToken cancellationToken)
    {
        var control = (DirectConnector.SocketConnection)await ConnectToProxyAsync(cancellationToken).ConfigureAwait(false);
        Socket? udp = null;
        try
        {
            // RFC 1928 7: the client's UDP source is not known yet; 0.0.0.0:0 lets the proxy take any.
            IpEndpoint relay = await RequestAsync(control, CommandUdpAssociate, new IpEndpoint(IpAddress.Ipv4Any, 0), cancellationToken).ConfigureAwait(false);
            if (relay.Address.IsAny)
            {
                relay = new IpEndpoint(Proxy.Address, relay.Port);
            }

            udp = Sockets.CreateSocket(relay, SocketType.Dgram, ProtocolType.Udp);
            udp.Connect(relay.ToIPEndPoint());
            return new AssociatedFlow(control, udp, destination);
        }
        catch
        {
            udp?.Dispose();
            control.Abort();
            throw;
        }
    }

    private async Task<OutboundConnection> ConnectToProxyAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await Sockets.ConnectAsync(Proxy, cancellationToken).ConfigureAwait(false);
        }
        catch (OutboundException e)
        {
            // The proxy itself is not there: the destination is as good as unreachable.
            throw new OutboundException(OutboundError.Failed, $"SOCKS5 proxy {Proxy}: {e.Message}", e);
        }
    }

    /// <summary>RFC 1928 3 and 4: greeting (no authentication), then the request; returns BND.ADDR:BND.PORT.</summary>
    private async Task<IpEndpoint> RequestAsync(OutboundConnection control, byte command, IpEndpoint destination, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(HandshakeTimeout);
        CancellationToken ct = timeout.Token;
        byte[] buffer = new byte[262];
        try
        {
            await control.WriteAsync(new byte[] { Version, 1, NoAuthentication }, ct).ConfigureAwait(false);
            await ReadExactlyAsync(control, buffer.AsMemory(0, 2), ct).ConfigureAwait(false);
            if (buffer[0] != Version || buffer[1] != NoAuthentication)
            {
                throw new OutboundException(OutboundError.Failed, $"SOCKS5 proxy {Proxy} wants authentication method {buffer[1]} (none offered but 'no authentication')");
            }

            int length = WriteRequest(buffer, command, destination);
            await control.WriteAsync(buffer.AsMemory(0, length), ct).ConfigureAwait(false);

            // VER REP RSV ATYP, then the bound address and port.
            await ReadExactlyAsync(control, buffer.AsMemory(0, 4), ct).ConfigureAwait(false);
            byte reply = buffer[1];
            byte type = buffer[3];
            int addressLength = type switch
            {
                AddressIpv4 => 4,
                AddressIpv6 => 16,
                AddressDomain => -1,
                _ => throw new OutboundException(OutboundError.Failed, $"SOCKS5 proxy {Proxy} replied with address type {type}"),
            };
            if (addressLength < 0)
            {
                await ReadExactlyAsync(control, buffer.AsMemory(0, 1), ct).ConfigureAwait(false);
                addressLength = buffer[0];
            }

            await ReadExactlyAsync(control, buffer.AsMemory(4, addressLength + 2), ct).ConfigureAwait(false);
            if (reply != 0)
            {
                throw new OutboundException(reply switch
                {
                    3 => OutboundError.NetworkUnreachable,
                    4 => OutboundError.HostUnreachable,
                    5 => OutboundError.Refused,
                    6 => OutboundError.TimedOut,
                    _ => OutboundError.Failed,
                }, $"SOCKS5 proxy {Proxy}: reply {reply} for {destination}");
            }

            ushort port = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(4 + addressLength));
            IpAddress bound = type == AddressIpv4 ? Ipv4Address.Create(buffer.AsSpan(4, 4))
                : type == AddressIpv6 ? IpAddress.Create(buffer.AsSpan(4, 16))
                : Proxy.Address;
            return new IpEndpoint(bound, port);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OutboundException(OutboundError.TimedOut, $"SOCKS5 proxy {Proxy} did not answer within {HandshakeTimeout.TotalSeconds} s");
        }
    }

    /// <summary>RFC 1928 4: VER CMD RSV ATYP DST.ADDR DST.PORT.</summary>
    private static int WriteRequest(Span<byte> buffer, byte command, IpEndpoint destination)
    {
        buffer[0] = Version;
        buffer[1] = command;
        buffer[2] = 0;
        int n = WriteAddress(buffer[3..], destination);
        return 3 + n;
    }

    /// <summary>ATYP, the address and the port: the SOCKS5 form of an endpoint (requests and UDP headers).</summary>
    internal static int WriteAddress(Span<byte> buffer, IpEndpoint endpoint)
    {
        int length;
        if (endpoint.Address.TryGetIpv4(out Ipv4Address v4))
        {
            buffer[0] = AddressIpv4;
            BinaryPrimitives.WriteUInt32BigEndian(buffer[1..], v4.ToUInt32());
            length = 4;
        }
        else
        {
            buffer[0] = AddressIpv6;
            Ipv6Address v6 = endpoint.Address.ToIpv6();
            ((ReadOnlySpan<byte>)v6).CopyTo(buffer[1..]);
            length = 16;
        }

        BinaryPrimitives.WriteUInt16BigEndian(buffer[(1 + length)..], endpoint.Port);
        return 1 + length + 2;
    }

    private static async Task ReadExactlyAsync(OutboundConnection connection, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            int n = await connection.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new OutboundException(OutboundError.Failed, "the SOCKS5 proxy closed the connection during the handshake");
            }

            buffer = buffer[n..];
        }
    }

    /// <summary>A UDP association (RFC 1928 7): datagrams to the relay with the SOCKS5 UDP header, alive with its control connection.</summary>
    private sealed class AssociatedFlow : OutboundDatagramFlow
    {
        private readonly OutboundConnection _control;
        private readonly Socket _udp;
        private readonly byte[] _header = new byte[22];
        private readonly int _headerLength;

        public AssociatedFlow(OutboundConnection control, Socket udp, IpEndpoint destination)
        {
            _control = control;
            _udp = udp;

            // RSV RSV FRAG ATYP DST.ADDR DST.PORT (FRAG 0: no fragmentation, RFC 1928 7).
            _headerLength = 3 + WriteAddress(_header.AsSpan(3), destination);
        }

        public override async ValueTask SendAsync(ReadOnlyMemory<byte> datagram, CancellationToken cancellationToken)
        {
            byte[] packet = System.Buffers.ArrayPool<byte>.Shared.Rent(_headerLength + datagram.Length);
            try
            {
                _header.AsSpan(0, _headerLength).CopyTo(packet);
                datagram.Span.CopyTo(packet.AsSpan(_headerLength));
                await _udp.SendAsync(packet.AsMemory(0, _headerLength + datagram.Length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw DirectConnector.Map(e, "the SOCKS5 UDP relay");
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(packet);
            }
        }

        public override async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            byte[] packet = System.Buffers.ArrayPool<byte>.Shared.Rent(buffer.Length + 262);
            try
            {
                while (true)
                {
                    int n;
                    try
                    {
                        n = await _udp.ReceiveAsync(packet, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                    }
                    catch (SocketException e)
                    {
                        throw DirectConnector.Map(e, "the SOCKS5 UDP relay");
                    }

                    // Skip what is not a whole, unfragmented datagram (RFC 1928 7: drop fragments we do not reassemble).
                    if (n < 4 || packet[2] != 0)
                    {
                        continue;
                    }

                    int header = packet[3] switch
                    {
                        AddressIpv4 => 10,
                        AddressIpv6 => 22,
                        AddressDomain when n > 4 => 4 + 1 + packet[4] + 2,
                        _ => -1,
                    };
                    if (header < 0 || header > n)
                    {
                        continue;
                    }

                    int length = Math.Min(n - header, buffer.Length);
                    packet.AsSpan(header, length).CopyTo(buffer.Span);
                    return length;
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(packet);
            }
        }

        public override void Dispose()
        {
            _udp.Dispose();
            _control.Abort();
        }
    }
}
