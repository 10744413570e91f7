using System.Buffers;
using System.Globalization;
using System.Text;

namespace Protocols.Cli.Http;

/// <summary>Counters of an <see cref="HttpServer"/> (updated from any connection's task).</summary>
internal sealed class HttpServerCounters
{
    internal long _connections;
    internal long _requests;
    internal long _rejected;
    internal long _bodyBytesSent;
    internal long _aborted;

    /// <summary>Connections served (ended).</summary>
    public long Connections => Interlocked.Read(ref _connections);

    /// <summary>Requests answered, rejected ones included.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Requests rejected as invalid (4xx/5xx from parsing and limits).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Response body bytes written.</summary>
    public long BodyBytesSent => Interlocked.Read(ref _bodyBytesSent);

    /// <summary>Connections ended by an I/O error, a timeout or a broken body.</summary>
    public long Aborted => Interlocked.Read(ref _aborted);
}

/// <summary>
/// A small HTTP/1.1 origin server over any <see cref="Stream"/> (a <c>TcpStream</c>, an
/// <c>SslStream</c>, an in-memory pipe): persistent connections and pipelining, Content-Length and
/// chunked request bodies, and the resources of CLI.md: <c>GET /</c> (a text page),
/// <c>GET /bytes/N</c> (N bytes where byte i is i % 251, streamed), <c>POST /echo</c> (the request
/// body, streamed back), 404 otherwise. Hostile input gets 400/413/414/431/501/505 and never an
/// exception; every buffer and wait is bounded by <see cref="HttpServerOptions"/>.
/// </summary>
internal sealed class HttpServer
{
    /// <summary>Bytes per write of generated and echoed bodies.</summary>
    private const int ChunkSize = 251 * 64;

    /// <summary>i % 251 for i in [0, 251 + ChunkSize): any run of ChunkSize pattern bytes is one slice of it.</summary>
    private static readonly byte[] Pattern = MakePattern();

    public HttpServer(HttpServerOptions? options = null)
    {
        Options = options ?? new HttpServerOptions();
    }

    /// <summary>The limits and timeouts.</summary>
    public HttpServerOptions Options { get; }

    /// <summary>What the server did so far.</summary>
    public HttpServerCounters Counters { get; } = new();

    /// <summary>Byte <paramref name="index"/> of every <c>/bytes/N</c> body.</summary>
    public static byte PatternByte(long index) => (byte)(index % 251);

    /// <summary>
    /// Serves requests on <paramref name="stream"/> until the client closes, asks to close, times out,
    /// or sends something invalid (answered, then closed), or <paramref name="cancellationToken"/> is
    /// cancelled. Never throws (I/O errors end the connection). The caller disposes the stream after.
    /// </summary>
    public async Task ServeConnectionAsync(Stream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var idle = new IdleDeadline(Options.IdleTimeout, Options.TimeProvider, cancellationToken);
        using var input = new HttpInput(stream, Options, idle);
        var connection = new Connection(this, stream, input, idle);
        try
        {
            await connection.RunAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or HttpBodyException or NotSupportedException or InvalidOperationException)
        {
            Interlocked.Increment(ref Counters._aborted);
        }
        finally
        {
            connection.Dispose();
            Interlocked.Increment(ref Counters._connections);
        }
    }

    private static byte[] MakePattern()
    {
        byte[] pattern = new byte[251 + ChunkSize];
        for (int i = 0; i < pattern.Length; i++)
        {
            pattern[i] = PatternByte(i);
        }

        return pattern;
    }

    private static string ReasonPhrase(int status) => status switch
    {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    };

    /// <summary>One connection's request loop.</summary>
    private sealed class Connection(HttpServer server, Stream stream, HttpInput input, IdleDeadline idle) : IDisposable
    {
        private readonly HttpServerOptions _options = server.Options;
        private byte[] _out = ArrayPool<byte>.Shared.Rent(ChunkSize + 1024);
        private bool _responseStarted;

        private CancellationToken Token => idle.Token;

        public async Task RunAsync()
        {
            for (int served = 0; served < _options.MaxRequestsPerConnection; served++)
            {
                (HttpHeadStatus status, HttpRequestHead? head, HttpRejection? error) result;
                try
                {
                    result = await input.ReadHeadAsync(Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (idle.Expired && input.Buffered > 0)
                {
                    // RFC 9110 15.5.9: a request started but not finished in time.
                    await RejectAsync(new HttpRejection(408, "request not received in time")).ConfigureAwait(false);
                    return;
                }

                switch (result.status)
                {
                    case HttpHeadStatus.EndOfStream:
                        return;
                    case HttpHeadStatus.Truncated:
                        Interlocked.Increment(ref server.Counters._aborted);
                        return;
                    case HttpHeadStatus.Invalid:
                        await RejectAsync(result.error!).ConfigureAwait(false);
                        return;
                }

                HttpRequestHead request = result.head!;
                bool keepAlive = request.KeepAlive && served + 1 < _options.MaxRequestsPerConnection;
                _responseStarted = false;
                try
                {
                    keepAlive = await RespondAsync(request, keepAlive).ConfigureAwait(false);
                }
                catch (HttpBodyException e) when (!_responseStarted)
                {
                    await RejectAsync(new HttpRejection(e.Status, e.Message), request.MinorVersion).ConfigureAwait(false);
                    return;
                }

                Interlocked.Increment(ref server.Counters._requests);
                if (!keepAlive)
                {
                    return;
                }
            }
        }

        public void Dispose()
        {
            byte[] buffer = _out;
            _out = [];
            if (buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        /// <summary>Answers one request; returns whether the connection stays open.</summary>
        private async Task<bool> RespondAsync(HttpRequestHead request, bool keepAlive)
        {
            bool head = request.Method == "HEAD";
            bool get = request.Method == "GET" || head;
            string path = request.Path;
            if (path == "/echo")
            {
                if (request.Method != "POST" && request.Method != "PUT")
                {
                    return await SimpleAsync(request, keepAlive, 405, "use POST\n", "Allow: POST, PUT\r\n").ConfigureAwait(false);
                }

                return await EchoAsync(request, keepAlive).ConfigureAwait(false);
            }

            if (path == "/")
            {
                return get
                    ? await SimpleAsync(request, keepAlive, 200, _options.IndexText, null, "text/plain; charset=utf-8", head).ConfigureAwait(false)
                    : await SimpleAsync(request, keepAlive, 405, "use GET\n", "Allow: GET, HEAD\r\n").ConfigureAwait(false);
            }

            if (path.StartsWith("/bytes/", StringComparison.Ordinal))
            {
                if (!get)
                {
                    return await SimpleAsync(request, keepAlive, 405, "use GET\n", "Allow: GET, HEAD\r\n").ConfigureAwait(false);
                }

                ReadOnlySpan<char> digits = path.AsSpan("/bytes/".Length);
                if (digits.IsEmpty || digits.Length > 19 || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long count))
                {
                    return await SimpleAsync(request, keepAlive, 400, "expected /bytes/N with N a decimal number\n").ConfigureAwait(false);
                }

                if (count > _options.MaxGeneratedBytes)
                {
                    return await SimpleAsync(request, keepAlive, 400, string.Create(CultureInfo.InvariantCulture, $"N must be at most {_options.MaxGeneratedBytes}\n")).ConfigureAwait(false);
                }

                return await BytesAsync(request, keepAlive, count, head).ConfigureAwait(false);
            }

            return await SimpleAsync(request, keepAlive, 404, "not found\n").ConfigureAwait(false);
        }

        /// <summary>A small in-memory response; the request body is discarded first.</summary>
        private async Task<bool> SimpleAsync(HttpRequestHead request, bool keepAlive, int status, string body, string? extraHeaders = null, string contentType = "text/plain; charset=utf-8", bool headOnly = false)
        {
            keepAlive = await SkipBodyAsync(request, keepAlive).ConfigureAwait(false);
            int length = Encoding.UTF8.GetByteCount(body);
            int at = WriteHead(status, request.MinorVersion, keepAlive, contentType, length, extraHeaders);
            if (!headOnly)
            {
                at += Encoding.UTF8.GetBytes(body, _out.AsSpan(at));
            }

            await WriteAsync(_out.AsMemory(0, at)).ConfigureAwait(false);
            if (status >= 400)
            {
                Interlocked.Increment(ref server.Counters._rejected);
            }

            return keepAlive;
        }

        /// <summary>GET /bytes/N: headers and the first slice in one write, then slices of the static pattern.</summary>
        private async Task<bool> BytesAsync(HttpRequestHead request, bool keepAlive, long count, bool headOnly)
        {
            keepAlive = await SkipBodyAsync(request, keepAlive).ConfigureAwait(false);
            int at = WriteHead(200, request.MinorVersion, keepAlive, "application/octet-stream", count, null);
            long sent = 0;
            if (!headOnly)
            {
                int first = (int)Math.Min(count, Math.Min(ChunkSize, _out.Length - at));
                Pattern.AsSpan(0, first).CopyTo(_out.AsSpan(at));
                at += first;
                sent = first;
            }

            await WriteAsync(_out.AsMemory(0, at)).ConfigureAwait(false);
            while (!headOnly && sent < count)
            {
                int n = (int)Math.Min(ChunkSize, count - sent);
                await WriteAsync(Pattern.AsMemory((int)(sent % 251), n)).ConfigureAwait(false);
                sent += n;
            }

            Interlocked.Add(ref server.Counters._bodyBytesSent, sent);
            return keepAlive;
        }

        /// <summary>POST /echo: the body streams back, with the same length or chunked.</summary>
        private async Task<bool> EchoAsync(HttpRequestHead request, bool keepAlive)
        {
            if (request.BodyKind == HttpBodyKind.ContentLength && request.ContentLength > _options.MaxRequestBodyBytes)
            {
                await RejectAsync(new HttpRejection(413, "request body too large"), request.MinorVersion).ConfigureAwait(false);
                return false;
            }

            if (request.ExpectContinue && request.BodyKind != HttpBodyKind.None)
            {
                // RFC 9110 10.1.1: the client waits for this before sending the body.
                int n = Encoding.ASCII.GetBytes("HTTP/1.1 100 Continue\r\n\r\n", _out);
                await WriteAsync(_out.AsMemory(0, n)).ConfigureAwait(false);
            }

            if (request.BodyKind != HttpBodyKind.Chunked)
            {
                long length = request.BodyKind == HttpBodyKind.None ? 0 : request.ContentLength;
                int at = WriteHead(200, request.MinorVersion, keepAlive, "application/octet-stream", length, null);
                _responseStarted = true;
                await WriteAsync(_out.AsMemory(0, at)).ConfigureAwait(false);
                byte[] body = ArrayPool<byte>.Shared.Rent(ChunkSize);
                try
                {
                    int n;
                    while ((n = await input.ReadBodyAsync(body.AsMemory(0, ChunkSize), Token).ConfigureAwait(false)) > 0)
                    {
                        await WriteAsync(body.AsMemory(0, n)).ConfigureAwait(false);
                        Interlocked.Add(ref server.Counters._bodyBytesSent, n);
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(body);
                }

                return keepAlive;
            }

            // Chunked in, chunked out (RFC 9112 7.1): each piece read becomes one chunk. The head is
            // sent with the first piece, so a body broken from its first bytes still gets a 400.
            const int Room = 32; // chunk-size line and CRLF around a piece
            int headLength = 0;
            bool first = true;
            while (true)
            {
                int start = first ? (headLength = WriteHead(200, request.MinorVersion, keepAlive, "application/octet-stream", -1, null)) : 0;
                int read = await input.ReadBodyAsync(_out.AsMemory(start + Room - 2, _out.Length - start - Room), Token).ConfigureAwait(false);
                int at = start;
                if (read > 0)
                {
                    string size = read.ToString("x", CultureInfo.InvariantCulture) + "\r\n";
                    int sizeLength = Encoding.ASCII.GetBytes(size, _out.AsSpan(start + Room - 2 - size.Length));
                    int chunkStart = start + Room - 2 - sizeLength;
                    if (first)
                    {
                        // Move the head right up against the chunk so one contiguous write carries both.
                        Buffer.BlockCopy(_out, 0, _out, chunkStart - headLength, headLength);
                        chunkStart -= headLength;
                    }

                    at = start + Room - 2 + read;
                    _out[at++] = (byte)'\r';
                    _out[at++] = (byte)'\n';
                    _responseStarted = true;
                    await WriteAsync(_out.AsMemory(chunkStart, at - chunkStart)).ConfigureAwait(false);
                    Interlocked.Add(ref server.Counters._bodyBytesSent, read);
                    first = false;
                    continue;
                }

                // The last chunk and an empty trailer section.
                int end = at;
                end += Encoding.ASCII.GetBytes("0\r\n\r\n", _out.AsSpan(end));
                _responseStarted = true;
                await WriteAsync(_out.AsMemory(0, end)).ConfigureAwait(false);
                return keepAlive;
            }
        }

        /// <summary>Reads and drops a body nobody asked for; false when it is too large to keep the connection.</summary>
        private async Task<bool> SkipBodyAsync(HttpRequestHead request, bool keepAlive)
        {
            if (request.BodyKind == HttpBodyKind.None)
            {
                return keepAlive;
            }

            if (request.ExpectContinue || (request.BodyKind == HttpBodyKind.ContentLength && request.ContentLength > _options.MaxDiscardedBodyBytes))
            {
                return false; // answer without reading it, then close
            }

            return await input.DiscardBodyAsync(_options.MaxDiscardedBodyBytes, Token).ConfigureAwait(false) && keepAlive;
        }

        /// <summary>An error response with <c>Connection: close</c>, then a bounded lingering read so the client sees it before our FIN (RFC 9112 9.6).</summary>
        private async Task RejectAsync(HttpRejection error, int minorVersion = 1)
        {
            Interlocked.Increment(ref server.Counters._rejected);
            Interlocked.Increment(ref server.Counters._requests);
            string body = error.Reason + "\n";
            int at = WriteHead(error.Status, minorVersion, keepAlive: false, "text/plain; charset=utf-8", Encoding.UTF8.GetByteCount(body), null);
            at += Encoding.UTF8.GetBytes(body, _out.AsSpan(at));
            try
            {
                if (idle.Renew())
                {
                    await WriteAsync(_out.AsMemory(0, at)).ConfigureAwait(false);
                    idle.Restart(TimeSpan.FromSeconds(2));
                    await input.DrainAsync(256 * 1024, Token).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
            {
                // The client is gone or silent: nothing more to do.
            }
        }

        /// <summary>Writes the status line and headers into <see cref="_out"/>; <paramref name="contentLength"/> -1 means chunked.</summary>
        private int WriteHead(int status, int minorVersion, bool keepAlive, string contentType, long contentLength, string? extraHeaders)
        {
            var text = new StringBuilder(256);
            text.Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {status} {ReasonPhrase(status)}\r\n");
            text.Append("Server: protocols\r\n");
            text.Append("Date: ").Append(_options.TimeProvider.GetUtcNow().ToString("r", CultureInfo.InvariantCulture)).Append("\r\n"); // RFC 9110 6.6.1
            text.Append("Content-Type: ").Append(contentType).Append("\r\n");
            if (contentLength >= 0)
            {
                text.Append(CultureInfo.InvariantCulture, $"Content-Length: {contentLength}\r\n");
            }
            else
            {
                text.Append("Transfer-Encoding: chunked\r\n");
            }

            if (!keepAlive)
            {
                text.Append("Connection: close\r\n");
            }
            else if (minorVersion == 0)
            {
                text.Append("Connection: keep-alive\r\n"); // RFC 9112 9.3: HTTP/1.0 persistence is opt-in
            }

            text.Append(extraHeaders).Append("\r\n");
            return Encoding.ASCII.GetBytes(text.ToString(), _out);
        }

        private ValueTask WriteAsync(ReadOnlyMemory<byte> data)
        {
            idle.Restart();
            return stream.WriteAsync(data, Token);
        }
    }
}
