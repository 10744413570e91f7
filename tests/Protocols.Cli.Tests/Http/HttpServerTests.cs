using System.Text;
using Protocols.Cli.Http;
using Protocols.Ip.Simulation;

namespace Protocols.Cli.Tests.Http;

public sealed class HttpServerTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    /// <summary>A server connection on an in-memory pipe; the client side sends raw bytes.</summary>
    private sealed class Harness : IAsyncDisposable
    {
        public Harness(HttpServerOptions? options = null)
        {
            (Client, PipeConnection server) = PipeConnection.CreatePair();
            ServerSide = server;
            Server = new HttpServer(options);
            Serving = Task.Run(async () =>
            {
                await Server.ServeConnectionAsync(server, CancellationToken.None);
                server.Dispose(); // as a listener would: close after the server is done
            });
            Reader = new ResponseReader(Client);
        }

        public PipeConnection Client { get; }

        public PipeConnection ServerSide { get; }

        public HttpServer Server { get; }

        public Task Serving { get; }

        public ResponseReader Reader { get; }

        public async Task SendAsync(string text) => await Client.WriteAsync(Encoding.Latin1.GetBytes(text));

        public async Task<RawResponse> ExchangeAsync(string request, bool head = false)
        {
            await SendAsync(request);
            return await Reader.ReadAsync(head);
        }

        /// <summary>The server closed the connection: its task ended and the client reads the end.</summary>
        public async Task AssertClosedAsync()
        {
            await Serving.WaitAsync(Limit);
            Assert.True(await Reader.AtEndAsync());
        }

        public async ValueTask DisposeAsync()
        {
            Client.CompleteWrites();
            await Serving.WaitAsync(Limit);
            Client.Dispose();
        }
    }

    [Fact]
    public async Task Index_page_and_keep_alive_serve_several_requests_on_one_connection()
    {
        await using var h = new Harness();
        for (int i = 0; i < 3; i++)
        {
            RawResponse r = await h.ExchangeAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            Assert.Equal(200, r.Status);
            Assert.StartsWith("text/plain", r.Header("Content-Type"), StringComparison.Ordinal);
            Assert.Contains("/bytes/N", r.Text, StringComparison.Ordinal);
            Assert.Null(r.Header("Connection"));
            Assert.NotNull(r.Header("Date"));
        }

        Assert.False(h.Serving.IsCompleted);
        h.Client.CompleteWrites();
        await h.AssertClosedAsync();
        Assert.Equal(3, h.Server.Counters.Requests);
        Assert.Equal(0, h.Server.Counters.Aborted);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(250)]
    [InlineData(251)]
    [InlineData(16064)]
    [InlineData(100_003)]
    [InlineData(3_000_000)]
    public async Task Bytes_n_returns_n_bytes_of_the_pattern(int n)
    {
        await using var h = new Harness();
        RawResponse r = await h.ExchangeAsync($"GET /bytes/{n} HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(200, r.Status);
        Assert.Equal(n.ToString(System.Globalization.CultureInfo.InvariantCulture), r.Header("Content-Length"));
        Assert.Equal("application/octet-stream", r.Header("Content-Type"));
        Assert.Equal(n, r.Body.Length);
        for (int i = 0; i < n; i++)
        {
            if (r.Body[i] != i % 251)
            {
                Assert.Fail($"byte {i} is {r.Body[i]}, expected {i % 251}");
            }
        }
    }

    [Fact]
    public async Task Head_and_query_strings_and_absolute_form_targets()
    {
        await using var h = new Harness();
        RawResponse head = await h.ExchangeAsync("HEAD /bytes/5000 HTTP/1.1\r\nHost: x\r\n\r\n", head: true);
        Assert.Equal("5000", head.Header("Content-Length"));
        RawResponse query = await h.ExchangeAsync("GET /bytes/7?cache=no HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(7, query.Body.Length);
        RawResponse absolute = await h.ExchangeAsync("GET http://10.0.0.2:8080/bytes/3 HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n");
        Assert.Equal(new byte[] { 0, 1, 2 }, absolute.Body);
    }

    [Fact]
    public async Task Pipelined_requests_in_one_write_get_responses_in_order()
    {
        await using var h = new Harness();
        await h.SendAsync("GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(3, (await h.Reader.ReadAsync()).Body.Length);
        Assert.Equal("hello", (await h.Reader.ReadAsync()).Text);
        Assert.Equal(404, (await h.Reader.ReadAsync()).Status);
    }

    [Fact]
    public async Task Echo_with_content_length_streams_the_body_back_even_when_it_arrives_a_byte_at_a_time()
    {
        await using var h = new Harness();
        await h.SendAsync("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n");
        byte[] body = new byte[300];
        new Random(1).NextBytes(body);
        Task<RawResponse> response = h.Reader.ReadAsync();
        foreach (byte b in body)
        {
            await h.Client.WriteAsync(new[] { b });
        }

        RawResponse r = await response.WaitAsync(Limit);
        Assert.Equal(200, r.Status);
        Assert.Equal(body, r.Body);
    }

    [Fact]
    public async Task Echo_of_a_large_body_does_not_buffer_it_whole()
    {
        await using var h = new Harness();
        byte[] body = new byte[5_000_000];
        new Random(2).NextBytes(body);
        await h.SendAsync($"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {body.Length}\r\n\r\n");
        Task send = Task.Run(async () => await h.Client.WriteAsync(body));
        RawResponse r = await h.Reader.ReadAsync();
        await send.WaitAsync(Limit);
        Assert.Equal(body, r.Body);
    }

    [Fact]
    public async Task Echo_of_a_chunked_body_with_extensions_and_trailers_answers_chunked()
    {
        await using var h = new Harness();
        RawResponse r = await h.ExchangeAsync(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
            "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n");
        Assert.Equal(200, r.Status);
        Assert.Equal("chunked", r.Header("Transfer-Encoding"));
        Assert.Equal("hello 0123456789", r.Text);

        RawResponse empty = await h.ExchangeAsync("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        Assert.Equal(string.Empty, empty.Text);
        RawResponse none = await h.ExchangeAsync("POST /echo HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal("0", none.Header("Content-Length"));
    }

    [Fact]
    public async Task Expect_100_continue_gets_an_interim_response_before_the_body_is_sent()
    {
        await using var h = new Harness();
        await h.SendAsync("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
        RawResponse interim = await h.Reader.ReadAsync();
        Assert.Equal(100, interim.Status);
        await h.SendAsync("ping");
        RawResponse r = await h.Reader.ReadAsync();
        Assert.Equal("ping", r.Text);
    }

    [Fact]
    public async Task Http10_closes_unless_keep_alive_is_asked_for()
    {
        await using (var h = new Harness())
        {
            RawResponse keep = await h.ExchangeAsync("GET /bytes/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            Assert.Equal("keep-alive", keep.Header("Connection"));
            RawResponse last = await h.ExchangeAsync("GET /bytes/2 HTTP/1.0\r\n\r\n");
            Assert.Equal("close", last.Header("Connection"));
            await h.AssertClosedAsync();
        }

        await using (var h = new Harness())
        {
            RawResponse r = await h.ExchangeAsync("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            Assert.Equal("close", r.Header("Connection"));
            await h.AssertClosedAsync();
        }
    }

    [Fact]
    public async Task Unknown_paths_are_404_and_wrong_methods_405_and_a_body_sent_to_them_is_skipped()
    {
        await using var h = new Harness();
        Assert.Equal(404, (await h.ExchangeAsync("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")).Status);
        RawResponse wrong = await h.ExchangeAsync("DELETE /echo HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(405, wrong.Status);
        Assert.Equal("POST, PUT", wrong.Header("Allow"));
        RawResponse withBody = await h.ExchangeAsync("POST /bytes/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
        Assert.Equal(405, withBody.Status);
        RawResponse getWithChunkedBody = await h.ExchangeAsync("GET /bytes/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        Assert.Single(getWithChunkedBody.Body);
        Assert.Equal(200, (await h.ExchangeAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).Status); // still in step
    }

    public static TheoryData<string, int> HostileRequests => new()
    {
        { "GET / HTTP/1.1\r\n\r\n", 400 },                                                      // no Host
        { "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
        { "GET /\r\nHost: x\r\n\r\n", 400 },                                                    // HTTP/0.9 style
        { "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
        { "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
        { "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400 },
        { "GET / http/1.1\r\nHost: x\r\n\r\n", 400 },
        { "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505 },
        { "GET nopath HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400 },                                          // space before colon
        { "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400 },                               // obs-fold
        { "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 501 },
        { "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + new string('1', 5000) + "\r\n", 400 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000000\r\n\r\n", 413 },
        { "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", 417 },
        { "GET /" + new string('a', 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414 },
        { "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + new string('b', 40_000) + "\r\n\r\n", 431 },
        { "GET / HTTP/1.1\r\nHost: x\r\n" + string.Concat(Enumerable.Range(0, 101).Select(i => $"X-{i}: v\r\n")) + "\r\n", 431 },
        { "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
    };

    [Theory]
    [MemberData(nameof(HostileRequests))]
    public async Task Hostile_requests_get_an_error_status_and_the_connection_closes(string request, int status)
    {
        await using var h = new Harness();
        RawResponse r = await h.ExchangeAsync(request);
        Assert.Equal(status, r.Status);
        Assert.Equal("close", r.Header("Connection"));
        h.Client.CompleteWrites();
        await h.AssertClosedAsync();
        Assert.Equal(1, h.Server.Counters.Rejected);
    }

    [Theory]
    [InlineData("/bytes/2000000000")]
    [InlineData("/bytes/12x")]
    [InlineData("/bytes/")]
    [InlineData("/bytes/-1")]
    public async Task A_bad_byte_count_is_400_on_a_connection_that_stays_usable(string path)
    {
        await using var h = new Harness();
        RawResponse r = await h.ExchangeAsync($"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(400, r.Status);
        Assert.Equal(200, (await h.ExchangeAsync("GET /bytes/1 HTTP/1.1\r\nHost: x\r\n\r\n")).Status);
    }

    [Fact]
    public async Task A_chunked_body_that_breaks_after_the_echo_started_aborts_the_response()
    {
        await using var h = new Harness();
        await h.SendAsync("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n");
        await h.Serving.WaitAsync(Limit);
        await Assert.ThrowsAsync<EndOfStreamException>(() => h.Reader.ReadAsync());
        Assert.Equal(1, h.Server.Counters.Aborted);
    }

    [Fact]
    public async Task Leading_empty_lines_and_bare_lf_line_endings_are_tolerated()
    {
        await using var h = new Harness();
        RawResponse r = await h.ExchangeAsync("\r\n\nGET /bytes/4 HTTP/1.1\nHost: x\n\n");
        Assert.Equal(4, r.Body.Length);
    }

    [Fact]
    public async Task A_request_cut_off_by_the_client_ends_the_connection_without_a_response()
    {
        await using var h = new Harness();
        await h.SendAsync("GET / HTTP/1.1\r\nHos");
        h.Client.CompleteWrites();
        await h.AssertClosedAsync();
        Assert.Equal(1, h.Server.Counters.Aborted);

        await using var h2 = new Harness();
        await h2.SendAsync("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
        h2.Client.CompleteWrites();
        await h2.Serving.WaitAsync(Limit);
        RawResponse partial = await h2.Reader.ReadAsync().ContinueWith(t => t.IsFaulted ? null! : t.Result);
        Assert.Null(partial); // headers promised 10 bytes; the body is cut short with the connection
    }

    [Fact]
    public async Task An_idle_or_slow_client_times_out_in_virtual_time()
    {
        var clock = new VirtualClock();
        await using var h = new Harness(new HttpServerOptions { TimeProvider = clock, IdleTimeout = TimeSpan.FromSeconds(30) });
        await h.SendAsync("GET / HTTP/1.1\r\nHo");
        await h.ServerSide.WaitForReadCallsAsync(2); // the partial head was read; the server waits for more
        clock.Advance(TimeSpan.FromSeconds(29));
        await Task.Yield();
        Assert.False(h.Serving.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(2));
        RawResponse r = await h.Reader.ReadAsync();
        Assert.Equal(408, r.Status);
        await h.ServerSide.WaitForReadCallsAsync(3); // the lingering read
        clock.Advance(TimeSpan.FromSeconds(3));
        await h.Serving.WaitAsync(Limit);

        // Idle between requests: closed without a response.
        await using var idle = new Harness(new HttpServerOptions { TimeProvider = clock });
        Assert.Equal(200, (await idle.ExchangeAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).Status);
        await idle.ServerSide.WaitForReadCallsAsync(2);
        clock.Advance(TimeSpan.FromSeconds(31));
        await idle.AssertClosedAsync();
    }

    [Fact]
    public async Task Property_pipelined_requests_split_at_random_points_get_the_same_responses()
    {
        const string Requests =
            "GET /bytes/300 HTTP/1.1\r\nHost: x\r\n\r\n" +
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world" +
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n" +
            "GET / HTTP/1.1\r\nHost: x\r\n\r\n" +
            "GET /bytes/5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        byte[] all = Encoding.ASCII.GetBytes(Requests);
        var rng = new Random(9110);
        for (int iter = 0; iter < 40; iter++)
        {
            await using var h = new Harness();
            Task send = Task.Run(async () =>
            {
                for (int at = 0; at < all.Length;)
                {
                    int n = Math.Min(all.Length - at, rng.Next(1, 8));
                    await h.Client.WriteAsync(all.AsMemory(at, n));
                    at += n;
                }
            });
            Assert.Equal(300, (await h.Reader.ReadAsync()).Body.Length);
            Assert.Equal("hello world", (await h.Reader.ReadAsync()).Text);
            Assert.Equal("abcde", (await h.Reader.ReadAsync()).Text);
            Assert.Equal(200, (await h.Reader.ReadAsync()).Status);
            RawResponse last = await h.Reader.ReadAsync();
            Assert.Equal(new byte[] { 0, 1, 2, 3, 4 }, last.Body);
            Assert.Equal("close", last.Header("Connection"));
            await send.WaitAsync(Limit);
            await h.AssertClosedAsync();
            Assert.Equal(5, h.Server.Counters.Requests);
        }
    }

    [Fact]
    public async Task Property_random_and_mutated_requests_never_throw_and_answer_only_http()
    {
        var rng = new Random(9112);
        string[] seeds =
        [
            "GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ];
        for (int iter = 0; iter < 300; iter++)
        {
            byte[] request = Encoding.Latin1.GetBytes(seeds[rng.Next(seeds.Length)]);
            if (iter % 3 == 0)
            {
                rng.NextBytes(request);
            }
            else
            {
                for (int m = rng.Next(1, 4); m > 0; m--)
                {
                    request[rng.Next(request.Length)] = (byte)rng.Next(256);
                }
            }

            var options = new HttpServerOptions { MaxHeaderBytes = 512, MaxRequestBodyBytes = 64, IdleTimeout = TimeSpan.FromSeconds(10) };
            await using var h = new Harness(options);
            await h.Client.WriteAsync(request);
            h.Client.CompleteWrites();
            await h.Serving.WaitAsync(Limit);
            Assert.True(h.Serving.IsCompletedSuccessfully);
            var all = new MemoryStream();
            await h.Client.CopyToAsync(all);
            byte[] output = all.ToArray();
            Assert.True(output.Length == 0 || output.AsSpan().StartsWith("HTTP/1.1 "u8), Encoding.Latin1.GetString(output));
        }
    }
}
