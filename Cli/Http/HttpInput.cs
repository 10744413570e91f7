using System.Buffers;
using System.Globalization;

namespace Protocols.Cli.Http;

/// <summary>A request body that cannot be read: malformed chunked coding, a truncated body, or one above the limit.</summary>
internal sealed class HttpBodyException(int status, string message) : Exception(message)
{
    /// <summary>The status that answers it if no response has started (400 or 413).</summary>
    public int Status { get; } = status;
}

/// <summary>The outcome of reading a request head.</summary>
internal enum HttpHeadStatus
{
    /// <summary>A request head was parsed.</summary>
    Request,

    /// <summary>The client closed the connection between requests.</summary>
    EndOfStream,

    /// <summary>The client closed the connection inside a request head.</summary>
    Truncated,

    /// <summary>The head was invalid or too large: answer with the error and close.</summary>
    Invalid,
}

/// <summary>
/// The reading side of one HTTP/1.1 connection: a single bounded buffer (rented from the pool,
/// <see cref="HttpServerOptions.MaxHeaderBytes"/> plus a little) from which request heads are
/// parsed and bodies (Content-Length or chunked, RFC 9112 6-7) are read. Bodies larger than what is
/// buffered are read straight into the caller's memory.
/// </summary>
internal sealed class HttpInput : IDisposable
{
    private const int MaxChunkLineLength = 4096;
    private const int MaxLeadingEmptyLines = 8;

    private readonly Stream _stream;
    private readonly HttpServerOptions _options;
    private readonly IdleDeadline _idle;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _endOfStream;

    // Body state.
    private HttpBodyKind _bodyKind;
    private long _remaining;        // Content-Length bytes, or bytes of the current chunk
    private ChunkState _chunkState;
    private long _bodyRead;

    public HttpInput(Stream stream, HttpServerOptions options, IdleDeadline idle)
    {
        _stream = stream;
        _options = options;
        _idle = idle;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(4096, options.MaxHeaderBytes + 4));
    }

    private enum ChunkState
    {
        Size,
        Data,
        DataEnd,
        Trailers,
        Done,
    }

    /// <summary>Bytes received but not consumed yet.</summary>
    public int Buffered => _end - _start;

    /// <summary>True once the body of the current request has been read to its end.</summary>
    public bool BodyComplete => _bodyKind == HttpBodyKind.None || (_bodyKind == HttpBodyKind.ContentLength ? _remaining == 0 : _chunkState == ChunkState.Done);

    /// <summary>Body bytes read so far for the current request.</summary>
    public long BodyRead => _bodyRead;

    /// <summary>Reads and parses the next request head (RFC 9112 2.2: leading empty lines are skipped).</summary>
    public async ValueTask<(HttpHeadStatus Status, HttpRequestHead? Head, HttpRejection? Error)> ReadHeadAsync(CancellationToken cancellationToken)
    {
        int skipped = 0;
        int scan = 0; // offset from _start where the search for the next '\n' resumes
        int lineStart = 0;
        int lines = 0;
        while (true)
        {
            int at = _buffer.AsSpan(_start + scan, _end - _start - scan).IndexOf((byte)'\n');
            if (at >= 0)
            {
                int lineEnd = scan + at; // offset of the '\n'
                int lineLength = lineEnd - lineStart;
                if (lineLength > 0 && _buffer[_start + lineEnd - 1] == '\r')
                {
                    lineLength--;
                }

                scan = lineEnd + 1;
                if (lineLength == 0)
                {
                    if (lines == 0)
                    {
                        // An empty line before the request line: skip it (bounded).
                        if (++skipped > MaxLeadingEmptyLines)
                        {
                            return (HttpHeadStatus.Invalid, null, new HttpRejection(400, "empty lines instead of a request"));
                        }

                        _start += scan;
                        scan = lineStart = 0;
                        continue;
                    }

                    // The empty line ends the head.
                    if (lineStart > _options.MaxHeaderBytes)
                    {
                        return (HttpHeadStatus.Invalid, null, new HttpRejection(431, "request header section too large"));
                    }

                    ReadOnlySpan<byte> head = _buffer.AsSpan(_start, lineStart);
                    _start += scan;
                    HttpRequestHead? parsed = HttpRequestHead.TryParse(head, _options, out HttpRejection? error);
                    if (parsed is null)
                    {
                        return (HttpHeadStatus.Invalid, null, error);
                    }

                    BeginBody(parsed);
                    return (HttpHeadStatus.Request, parsed, null);
                }

                if (lines == 0 && lineLength > _options.MaxRequestLineLength)
                {
                    return (HttpHeadStatus.Invalid, null, new HttpRejection(414, "request line too long"));
                }

                lines++;
                lineStart = scan;
                if (lines > _options.MaxHeaderCount + 1)
                {
                    return (HttpHeadStatus.Invalid, null, new HttpRejection(431, $"more than {_options.MaxHeaderCount} header fields"));
                }

                if (scan > _options.MaxHeaderBytes)
                {
                    return (HttpHeadStatus.Invalid, null, new HttpRejection(431, "request header section too large"));
                }

                continue;
            }

            scan = _end - _start;
            if (lines == 0 && scan - lineStart > _options.MaxRequestLineLength)
            {
                return (HttpHeadStatus.Invalid, null, new HttpRejection(414, "request line too long"));
            }

            if (scan > _options.MaxHeaderBytes)
            {
                return (HttpHeadStatus.Invalid, null, new HttpRejection(431, "request header section too large"));
            }

            if (_endOfStream || !await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                return (_end - _start == 0 ? HttpHeadStatus.EndOfStream : HttpHeadStatus.Truncated, null, null);
            }
        }
    }

    /// <summary>
    /// Reads body bytes of the current request into <paramref name="destination"/>; 0 at the end of the
    /// body. Throws <see cref="HttpBodyException"/> on malformed chunked coding or a truncated body.
    /// </summary>
    public async ValueTask<int> ReadBodyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        while (true)
        {
            switch (_bodyKind)
            {
                case HttpBodyKind.None:
                    return 0;
                case HttpBodyKind.ContentLength:
                    if (_remaining == 0)
                    {
                        return 0;
                    }

                    return await ReadDataAsync(destination, cancellationToken).ConfigureAwait(false);
            }

            switch (_chunkState)
            {
                case ChunkState.Done:
                    return 0;
                case ChunkState.Data:
                    return await ReadDataAsync(destination, cancellationToken).ConfigureAwait(false);
                case ChunkState.Size:
                    {
                        (int offset, int length) = await ReadLineAsync(MaxChunkLineLength, cancellationToken).ConfigureAwait(false);
                        _remaining = ParseChunkSize(_buffer.AsSpan(offset, length));
                        _chunkState = _remaining == 0 ? ChunkState.Trailers : ChunkState.Data;
                        break;
                    }

                case ChunkState.DataEnd:
                    {
                        (_, int length) = await ReadLineAsync(2, cancellationToken).ConfigureAwait(false);
                        if (length != 0)
                        {
                            throw new HttpBodyException(400, "chunk data not followed by CRLF");
                        }

                        _chunkState = ChunkState.Size;
                        break;
                    }

                case ChunkState.Trailers:
                    {
                        // RFC 9112 7.1.2: trailer fields are read and ignored; their total is bounded like a head.
                        (_, int length) = await ReadLineAsync(_options.MaxHeaderBytes, cancellationToken).ConfigureAwait(false);
                        if (length == 0)
                        {
                            _chunkState = ChunkState.Done;
                            return 0;
                        }

                        _remaining += length;
                        if (_remaining > _options.MaxHeaderBytes)
                        {
                            throw new HttpBodyException(431, "trailer section too large");
                        }

                        break;
                    }
            }
        }
    }

    /// <summary>Reads the rest of the body and drops it; false (and nothing more read) past <paramref name="limit"/> bytes.</summary>
    public async ValueTask<bool> DiscardBodyAsync(long limit, CancellationToken cancellationToken)
    {
        byte[] scratch = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (_bodyRead <= limit)
            {
                if (await ReadBodyAsync(scratch, cancellationToken).ConfigureAwait(false) == 0)
                {
                    return true;
                }
            }

            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Reads and drops whatever the client still sends, for at most <paramref name="maxBytes"/> (RFC 9112 9.6 lingering close).</summary>
    public async ValueTask DrainAsync(int maxBytes, CancellationToken cancellationToken)
    {
        int total = _end - _start;
        _start = _end = 0;
        while (!_endOfStream && total < maxBytes)
        {
            int n = await _stream.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                _endOfStream = true;
            }

            total += n;
        }
    }

    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        _start = _end = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void BeginBody(HttpRequestHead head)
    {
        _bodyKind = head.BodyKind;
        _remaining = head.ContentLength;
        _chunkState = ChunkState.Size;
        _bodyRead = 0;
    }

    /// <summary>Content-Length data or chunk data: from the buffer first, else straight from the stream.</summary>
    private async ValueTask<int> ReadDataAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        int want = (int)Math.Min(destination.Length, _remaining);
        if (want == 0)
        {
            return 0;
        }

        int n;
        if (_end > _start)
        {
            n = Math.Min(want, _end - _start);
            _buffer.AsSpan(_start, n).CopyTo(destination.Span);
            _start += n;
        }
        else
        {
            if (_endOfStream)
            {
                throw new HttpBodyException(400, "the connection ended inside the request body");
            }

            _idle.Restart();
            n = await _stream.ReadAsync(destination[..want], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                _endOfStream = true;
                throw new HttpBodyException(400, "the connection ended inside the request body");
            }
        }

        _remaining -= n;
        _bodyRead += n;
        if (_bodyKind == HttpBodyKind.Chunked && _remaining == 0)
        {
            _chunkState = ChunkState.DataEnd;
        }

        return n;
    }

    /// <summary>Ensures a whole line is buffered and consumes it: (offset, length without CR LF). Bounded by <paramref name="maxLength"/>.</summary>
    private async ValueTask<(int Offset, int Length)> ReadLineAsync(int maxLength, CancellationToken cancellationToken)
    {
        int scan = 0;
        while (true)
        {
            int at = _buffer.AsSpan(_start + scan, _end - _start - scan).IndexOf((byte)'\n');
            if (at >= 0)
            {
                int offset = _start;
                int length = scan + at;
                _start += length + 1;
                if (length > 0 && _buffer[offset + length - 1] == '\r')
                {
                    length--;
                }

                if (length > maxLength)
                {
                    throw new HttpBodyException(400, "chunked coding line too long");
                }

                return (offset, length);
            }

            scan = _end - _start;
            if (scan > maxLength + 1)
            {
                throw new HttpBodyException(400, "chunked coding line too long");
            }

            if (_endOfStream || !await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new HttpBodyException(400, "the connection ended inside the chunked body");
            }
        }
    }

    /// <summary>RFC 9112 7.1: chunk-size = 1*HEXDIG, then optional chunk extensions (ignored).</summary>
    private long ParseChunkSize(ReadOnlySpan<byte> line)
    {
        int end = line.IndexOfAny(" \t;"u8);
        ReadOnlySpan<byte> digits = end < 0 ? line : line[..end];
        if (digits.IsEmpty || digits.Length > 15
            || !long.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long size))
        {
            throw new HttpBodyException(400, "malformed chunk size");
        }

        if (_bodyRead + size > _options.MaxRequestBodyBytes)
        {
            throw new HttpBodyException(413, "request body too large");
        }

        return size;
    }

    /// <summary>Reads more into the buffer (compacting first); false at the end of the stream or when the buffer is full.</summary>
    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length && _start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            return false;
        }

        _idle.Restart();
        int n = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        if (n == 0)
        {
            _endOfStream = true;
            return false;
        }

        _end += n;
        return true;
    }
}
