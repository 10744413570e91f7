using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Tests.Shared;

namespace Protocols.AspNetCore.Tests;

/// <summary>
/// The transport's side of Kestrel's contract, without Kestrel: what its connection listener
/// factory, listener and connection promise (the shape of Kestrel's own transport tests).
/// </summary>
public sealed class TransportContractTests : IAsyncLifetime
{
    private const ushort Port = 5080;
    private readonly RealTimeStackPair _pair = new(link: new LinkOptions { Delay = TimeSpan.FromMilliseconds(0.2) });
    private IConnectionListener _listener = null!;

    private StackConnectionListenerFactory Factory(Action<StackTransportOptions>? configure = null)
    {
        var options = new StackTransportOptions { Tcp = _pair.ServerTcp };
        configure?.Invoke(options);
        return new StackConnectionListenerFactory(Options.Create(options), NullLoggerFactory.Instance);
    }

    public async Task InitializeAsync() =>
        _listener = await Factory(o => o.LingerTimeout = TimeSpan.FromSeconds(1)).BindAsync(new IPEndPoint(IPAddress.Any, Port));

    public async Task DisposeAsync()
    {
        await _listener.DisposeAsync();
        await _pair.DisposeAsync();
    }

    private async Task<(TcpStream Client, ConnectionContext Server)> ConnectAsync()
    {
        ValueTask<ConnectionContext?> accept = _listener.AcceptAsync();
        TcpStream client = await _pair.ClientTcp.ConnectAsync(new IpEndpoint(RealTimeStackPair.ServerAddress, Port)).WaitAsync(RealTimeStackPair.Limit);
        ConnectionContext? server = await accept.AsTask().WaitAsync(RealTimeStackPair.Limit);
        Assert.NotNull(server);
        return (client, server);
    }

    private static async Task<string> ReadAllAsync(PipeReader reader)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync().AsTask().WaitAsync(RealTimeStackPair.Limit);
            if (result.IsCompleted)
            {
                string text = Encoding.ASCII.GetString(result.Buffer.ToArray());
                reader.AdvanceTo(result.Buffer.End);
                return text;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static async Task<string> ReadToEndAsync(Stream stream)
    {
        var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer).WaitAsync(RealTimeStackPair.Limit);
        return Encoding.ASCII.GetString(buffer.ToArray());
    }

    [Fact]
    public async Task Bind_reports_the_endpoint_and_accept_gives_a_connection_with_endpoints_id_and_features()
    {
        Assert.Equal(new IPEndPoint(IPAddress.Any, Port), _listener.EndPoint);
        (TcpStream client, ConnectionContext server) = await ConnectAsync();
        await using (server)
        using (client)
        {
            Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.2"), Port), server.LocalEndPoint);
            Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.1"), client.LocalEndPoint.Port), server.RemoteEndPoint);
            Assert.Matches("^[0-9A-V]{13}$", server.ConnectionId);
            Assert.Same(server.Transport, server.Features.Get<IConnectionTransportFeature>()!.Transport);
            Assert.Equal(server.ConnectionId, server.Features.Get<IConnectionIdFeature>()!.ConnectionId);
            Assert.NotNull(server.Features.Get<IConnectionLifetimeFeature>());
            Assert.NotNull(server.Features.Get<IMemoryPoolFeature>()!.MemoryPool);
            Assert.Equal(server.RemoteEndPoint, server.Features.Get<IConnectionEndPointFeature>()!.RemoteEndPoint);
            server.Items["k"] = "v";
            Assert.Equal("v", server.Features.Get<IConnectionItemsFeature>()!.Items["k"]);

            (TcpStream client2, ConnectionContext server2) = await ConnectAsync();
            await using (server2)
            using (client2)
            {
                Assert.NotEqual(server.ConnectionId, server2.ConnectionId);
            }
        }
    }

    [Fact]
    public async Task Bytes_flow_both_ways_through_the_pipes()
    {
        (TcpStream client, ConnectionContext server) = await ConnectAsync();
        await using (server)
        using (client)
        {
            byte[] request = new byte[200_000];
            new Random(5).NextBytes(request);
            Task send = client.WriteAsync(request).AsTask();
            var received = new MemoryStream();
            while (received.Length < request.Length)
            {
                ReadResult read = await server.Transport.Input.ReadAsync().AsTask().WaitAsync(RealTimeStackPair.Limit);
                foreach (ReadOnlyMemory<byte> segment in read.Buffer)
                {
                    received.Write(segment.Span);
                }

                server.Transport.Input.AdvanceTo(read.Buffer.End);
            }

            await send;
            Assert.Equal(request, received.ToArray());

            await server.Transport.Output.WriteAsync(request);
            byte[] back = new byte[request.Length];
            await client.ReadExactlyAsync(back).AsTask().WaitAsync(RealTimeStackPair.Limit);
            Assert.Equal(request, back);
        }
    }

    [Fact]
    public async Task After_the_peers_fin_the_input_holds_every_byte_then_completes_and_the_output_still_reaches_the_peer()
    {
        (TcpStream client, ConnectionContext server) = await ConnectAsync();
        await using (server)
        using (client)
        {
            var closed = new TaskCompletionSource();
            server.ConnectionClosed.Register(() => closed.TrySetResult());
            await client.WriteAsync(Encoding.ASCII.GetBytes("request then FIN"));
            client.CompleteWrites();

            Assert.Equal("request then FIN", await ReadAllAsync(server.Transport.Input));
            await closed.Task.WaitAsync(RealTimeStackPair.Limit); // the peer's FIN fires ConnectionClosed, as the socket transport does

            // Half-close: our side may still answer, and completing the output sends our FIN.
            await server.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes("answer"));
            await server.Transport.Output.CompleteAsync();
            Assert.Equal("answer", await ReadToEndAsync(client));
        }

        await RealTimeStackPair.WaitUntilAsync(async () => (await _pair.ServerConnectionsAsync()).All(c => c.State is TcpState.Listen or TcpState.TimeWait or TcpState.Closed), "the server's connection closes");
        Assert.Equal(0, _pair.ServerTcp.Counters.ResetsSent);
    }

    [Fact]
    public async Task Completing_the_output_sends_fin_after_the_data_and_the_close_is_orderly()
    {
        (TcpStream client, ConnectionContext server) = await ConnectAsync();
        await server.Transport.Output.WriteAsync(new byte[100_000]);
        await server.Transport.Output.CompleteAsync();
        Assert.Equal(100_000, (await ReadToEndAsync(client)).Length); // then 0: our FIN
        await server.Transport.Input.CompleteAsync();
        client.Dispose(); // the client's FIN: the server's linger ends without a reset
        await server.DisposeAsync().AsTask().WaitAsync(RealTimeStackPair.Limit);
        Assert.Equal(0, _pair.ServerTcp.Counters.ResetsSent);
        Assert.Equal(0, _pair.ClientTcp.Counters.ResetsReceived);
    }

    [Fact]
    public async Task A_client_that_never_closes_is_released_after_the_linger_time()
    {
        (TcpStream client, ConnectionContext server) = await ConnectAsync();
        using (client)
        {
            await server.Transport.Output.CompleteAsync();
            await server.Transport.Input.CompleteAsync();
            Assert.Equal(string.Empty, await ReadToEndAsync(client)); // our FIN
            await server.DisposeAsync().AsTask().WaitAsync(RealTimeStackPair.Limit); // bounded by the 1 s linger
        }
    }

    [Fact]
    public async Task Abort_closes_at_once_and_what_the_peer_sends_afterwards_is_reset()
    {
        (TcpStream client, ConnectionContext server) = await ConnectAsync();
        var closed = new TaskCompletionSource();
        server.ConnectionClosed.Register(() => closed.TrySetResult());
        await client.WriteAsync(new byte[5000]); // taken into the input pipe, never read by the application
        await RealTimeStackPair.WaitUntilAsync(async () => (await _pair.ServerConnectionsAsync()).Single(c => c.State == TcpState.Established) is { BytesReceived: >= 5000, ReceiveQueue: 0 }, "the transport reads it");
        server.Abort(new ConnectionAbortedException("test abort"));
        Assert.Equal(string.Empty, await ReadToEndAsync(client)); // the socket transport's close: FIN
        await closed.Task.WaitAsync(RealTimeStackPair.Limit);
        FlushResult flush = await server.Transport.Output.WriteAsync(new byte[1]).AsTask().WaitAsync(RealTimeStackPair.Limit);
        Assert.True(flush.IsCompleted, "the output is completed once aborted");

        // RFC 9293 3.10.7.4: data for a connection that is closed is answered with RST.
        long resets = _pair.ServerTcp.Counters.ResetsSent;
        await RealTimeStackPair.WaitUntilAsync(async () => (await _pair.ServerConnectionsAsync()).All(c => c.State != TcpState.Established), "the server's side is closed");
        await client.WriteAsync(new byte[10]);
        await RealTimeStackPair.WaitUntilAsync(() => _pair.ServerTcp.Counters.ResetsSent > resets, "the late data is reset");
        await server.DisposeAsync();
        client.Dispose();
    }

    [Fact]
    public async Task A_peer_reset_completes_the_input_with_connection_reset()
    {
        (TcpStream client, ConnectionContext server) = await ConnectAsync();
        await using (server)
        {
            client.Abort();
            client.Dispose();
            var error = await Assert.ThrowsAsync<ConnectionResetException>(() => ReadAllAsync(server.Transport.Input));
            Assert.IsType<TcpException>(error.InnerException);
        }
    }

    [Fact]
    public async Task Unbind_ends_accepting_and_refuses_new_connections()
    {
        ValueTask<ConnectionContext?> pending = _listener.AcceptAsync();
        await _listener.UnbindAsync();
        Assert.Null(await pending.AsTask().WaitAsync(RealTimeStackPair.Limit));
        Assert.Null(await _listener.AcceptAsync().AsTask().WaitAsync(RealTimeStackPair.Limit));
        var refused = await Assert.ThrowsAsync<TcpException>(() => _pair.ClientTcp.ConnectAsync(new IpEndpoint(RealTimeStackPair.ServerAddress, Port)).WaitAsync(RealTimeStackPair.Limit));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task Binds_ip_endpoints_with_a_port_dual_stack_on_the_ipv6_any_address_and_reports_a_port_in_use()
    {
        StackConnectionListenerFactory factory = Factory();
        Assert.True(factory.CanBind(new IPEndPoint(IPAddress.Any, 1)));
        Assert.True(factory.CanBind(new IPEndPoint(IPAddress.Parse("10.0.0.2").MapToIPv6(), 1)));
        Assert.True(factory.CanBind(new IPEndPoint(IPAddress.IPv6Any, 1)));
        Assert.False(factory.CanBind(new UnixDomainSocketEndPoint("/tmp/x.sock")));
        Assert.False(factory.CanBind(new IPEndPoint(IPAddress.Any, 0)));
        await Assert.ThrowsAsync<NotSupportedException>(() => factory.BindAsync(new UnixDomainSocketEndPoint("/tmp/x.sock")).AsTask());
        await Assert.ThrowsAsync<AddressInUseException>(() => factory.BindAsync(new IPEndPoint(IPAddress.Any, Port)).AsTask());

        // [::] is dual-stack, as Kestrel's ListenAnyIP expects: on this IPv4-only stack it takes IPv4 clients.
        IConnectionListener any = await factory.BindAsync(new IPEndPoint(IPAddress.IPv6Any, 5083));
        await using (any)
        {
            ValueTask<ConnectionContext?> accept = any.AcceptAsync();
            using TcpStream client = await _pair.ClientTcp.ConnectAsync(new IpEndpoint(RealTimeStackPair.ServerAddress, 5083)).WaitAsync(RealTimeStackPair.Limit);
            await using ConnectionContext? server = await accept.AsTask().WaitAsync(RealTimeStackPair.Limit);
            Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.2"), 5083), server!.LocalEndPoint);
        }

        Assert.True(factory.CanBind(new PriorKnowledgeEndPoint(new IPEndPoint(IPAddress.Any, 1))));
        IConnectionListener specific = await factory.BindAsync(new IPEndPoint(IPAddress.Parse("10.0.0.2"), 5081));
        await using (specific)
        {
            Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.2"), 5081), specific.EndPoint);
        }
    }

    [Fact]
    public async Task A_port_with_a_prior_knowledge_listener_splits_its_connections_by_the_http2_preface()
    {
        StackConnectionListenerFactory factory = Factory();
        var endpoint = new IPEndPoint(IPAddress.Any, 5082);
        await using IConnectionListener http = await factory.BindAsync(endpoint);
        await using IConnectionListener h2c = await factory.BindAsync(new PriorKnowledgeEndPoint(endpoint));
        Assert.Equal(new PriorKnowledgeEndPoint(endpoint), h2c.EndPoint);
        await Assert.ThrowsAsync<AddressInUseException>(() => factory.BindAsync(new PriorKnowledgeEndPoint(endpoint)).AsTask());

        var target = new IpEndpoint(RealTimeStackPair.ServerAddress, 5082);
        using TcpStream http2Client = await _pair.ClientTcp.ConnectAsync(target).WaitAsync(RealTimeStackPair.Limit);
        await http2Client.WriteAsync(Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n"));
        await Task.Delay(50);
        await http2Client.WriteAsync(Encoding.ASCII.GetBytes("\r\nSM\r\n\r\nframes"));
        using TcpStream http1Client = await _pair.ClientTcp.ConnectAsync(target).WaitAsync(RealTimeStackPair.Limit);
        await http1Client.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\n"));

        await using ConnectionContext first = (await h2c.AcceptAsync().AsTask().WaitAsync(RealTimeStackPair.Limit))!;
        await using ConnectionContext second = (await http.AcceptAsync().AsTask().WaitAsync(RealTimeStackPair.Limit))!;
        http2Client.CompleteWrites();
        http1Client.CompleteWrites();
        Assert.Equal("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nframes", await ReadAllAsync(first.Transport.Input)); // nothing was consumed by the peek
        Assert.Equal("GET / HTTP/1.1\r\n", await ReadAllAsync(second.Transport.Input));
    }
}
