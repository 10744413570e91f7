using System.Globalization;
using System.IO.Pipelines;
using System.Text;

namespace Protocols.Cli.Tests.Http;

/// <summary>One end of an in-memory connection; <see cref="CompleteWrites"/> makes the other end read 0 (a FIN).</summary>
internal sealed class PipeConnection : Stream
{
    private readonly Stream _input;
    private readonly PipeWriter _output;

    private PipeConnection(PipeReader input, PipeWriter output)
    {
        _input = input.AsStream();
        _output = output;
    }

    public static (PipeConnection Client, PipeConnection Server) CreatePair()
    {
        var up = new Pipe(new PipeOptions(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19));
        var down = new Pipe(new PipeOptions(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19));
        return (new PipeConnection(down.Reader, up.Writer), new PipeConnection(up.Reader, down.Writer));
    }

    private int _readCalls;

    /// <summary>How many reads were started on this end (tests wait for a server to block in a read).</summary>
    public int ReadCalls => Volatile.Read(ref _readCalls);

    public void CompleteWrites() => _output.Complete();

    public async Task WaitForReadCallsAsync(int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (ReadCalls < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {ReadCalls} reads started, waiting for {count}");
            await Task.Delay(1);
        }
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => _input.Read(buffer, offset, count);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _readCalls);
        return _input.ReadAsync(buffer, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            await _output.WriteAsync(buffer, cancellationToken);
        }
        catch (InvalidOperationException e)
        {
            throw new IOException("the connection is closed", e);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _output.Complete();
            _input.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>A parsed response.</summary>
internal sealed record RawResponse(int Status, Dictionary<string, string> Headers, byte[] Body, string Head)
{
    public string Text => Encoding.UTF8.GetString(Body);

    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out string? v) ? v : null;
}

/// <summary>Reads HTTP/1.1 responses from a stream (Content-Length, chunked, or to the end).</summary>
internal sealed class ResponseReader(Stream stream)
{
    private readonly List<byte> _buffer = [];
    private bool _eof;

    public async Task<bool> AtEndAsync()
    {
        while (_buffer.Count == 0 && !_eof)
        {
            await FillAsync();
        }

        return _buffer.Count == 0 && _eof;
    }

    public async Task<RawResponse> ReadAsync(bool headRequest = false)
    {
        string head = Encoding.Latin1.GetString(await ReadUntilAsync("\r\n\r\n"u8.ToArray()));
        string[] lines = head.Split("\r\n");
        string[] statusLine = lines[0].Split(' ', 3);
        Assert.Equal("HTTP/1.1", statusLine[0]);
        int status = int.Parse(statusLine[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>();
        foreach (string line in lines.Skip(1).Where(l => l.Length > 0))
        {
            int colon = line.IndexOf(':');
            headers[line[..colon].ToLowerInvariant()] = line[(colon + 1)..].Trim();
        }

        byte[] body;
        if (headRequest || status is 100 or 204 or 304)
        {
            body = [];
        }
        else if (headers.TryGetValue("content-length", out string? cl))
        {
            body = await ReadExactlyAsync(int.Parse(cl, CultureInfo.InvariantCulture));
        }
        else if (headers.TryGetValue("transfer-encoding", out string? te) && te == "chunked")
        {
            var all = new List<byte>();
            while (true)
            {
                string sizeLine = Encoding.ASCII.GetString(await ReadUntilAsync("\r\n"u8.ToArray()));
                int size = int.Parse(sizeLine, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    Assert.Empty(await ReadUntilAsync("\r\n"u8.ToArray()));
                    break;
                }

                all.AddRange(await ReadExactlyAsync(size));
                Assert.Empty(await ReadUntilAsync("\r\n"u8.ToArray()));
            }

            body = [.. all];
        }
        else
        {
            while (!_eof)
            {
                await FillAsync();
            }

            body = [.. _buffer];
            _buffer.Clear();
        }

        return new RawResponse(status, headers, body, head);
    }

    private async Task<byte[]> ReadUntilAsync(byte[] terminator)
    {
        while (true)
        {
            int at = CollectionsMarshalIndexOf(terminator);
            if (at >= 0)
            {
                byte[] result = [.. _buffer.GetRange(0, at)];
                _buffer.RemoveRange(0, at + terminator.Length);
                return result;
            }

            if (_eof)
            {
                throw new EndOfStreamException($"the connection ended before {Encoding.ASCII.GetString(terminator).Replace("\r\n", "CRLF", StringComparison.Ordinal)}; had '{Encoding.Latin1.GetString([.. _buffer])}'");
            }

            await FillAsync();
        }
    }

    private int CollectionsMarshalIndexOf(byte[] terminator) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_buffer).IndexOf(terminator);

    private async Task<byte[]> ReadExactlyAsync(int count)
    {
        while (_buffer.Count < count)
        {
            if (_eof)
            {
                throw new EndOfStreamException($"body ended after {_buffer.Count} of {count} bytes");
            }

            await FillAsync();
        }

        byte[] result = [.. _buffer.GetRange(0, count)];
        _buffer.RemoveRange(0, count);
        return result;
    }

    private async Task FillAsync()
    {
        byte[] chunk = new byte[65536];
        int n = await stream.ReadAsync(chunk).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        if (n == 0)
        {
            _eof = true;
        }

        _buffer.AddRange(chunk.AsSpan(0, n).ToArray());
    }
}
