using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Protocols.Interop.Tests;

/// <summary>What an HTTP exchange over a raw stream returned.</summary>
/// <param name="Status">The status line.</param>
/// <param name="ContentLength">The Content-Length header, or -1.</param>
/// <param name="BodyLength">The body bytes received (until the peer's FIN).</param>
/// <param name="BodySha256">The body's SHA-256 (hex, lower case).</param>
public sealed record HttpResult(string Status, long ContentLength, long BodyLength, string BodySha256);

/// <summary>Byte-level helpers for the TCP interop tests.</summary>
public static class TcpTestData
{
    /// <summary>The SHA-256 of <c>protocols serve</c>'s <c>/bytes/N</c> body: byte i is i % 251 (CLI.md).</summary>
    public static string PatternSha256(long length)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] block = new byte[251 * 256];
        for (int i = 0; i < block.Length; i++)
        {
            block[i] = (byte)(i % 251);
        }

        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(block.Length, length - done);
            hash.AppendData(block, 0, n);
            done += n;
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Sends <c>GET path</c> (HTTP/1.1, Connection: close) on <paramref name="stream"/> and reads
    /// the response until the server's FIN, hashing the body.
    /// </summary>
    public static async Task<HttpResult> HttpGetAsync(Stream stream, string host, string path, CancellationToken cancellationToken)
    {
        byte[] request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: protocols-interop\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(request, cancellationToken);

        byte[] buffer = new byte[64 * 1024];
        int held = 0;
        int headerEnd;
        while ((headerEnd = buffer.AsSpan(0, held).IndexOf("\r\n\r\n"u8)) < 0)
        {
            Assert.True(held < buffer.Length, "response header longer than 64 KiB");
            int n = await stream.ReadAsync(buffer.AsMemory(held), cancellationToken);
            Assert.True(n > 0, $"connection closed inside the response header: '{Encoding.ASCII.GetString(buffer, 0, held)}'");
            held += n;
        }

        string[] lines = Encoding.ASCII.GetString(buffer, 0, headerEnd).Split("\r\n");
        long contentLength = -1;
        foreach (string line in lines.Skip(1))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                contentLength = long.Parse(line.AsSpan("Content-Length:".Length).Trim(), CultureInfo.InvariantCulture);
            }
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long body = held - (headerEnd + 4);
        hash.AppendData(buffer, headerEnd + 4, (int)body);
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            body += read;
        }

        return new HttpResult(lines[0], contentLength, body, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    /// <summary>Writes <paramref name="path"/> to <paramref name="stream"/> in 64 KiB writes.</summary>
    public static async Task SendFileAsync(Stream stream, string path, CancellationToken cancellationToken)
    {
        await using FileStream file = File.OpenRead(path);
        await file.CopyToAsync(stream, 64 * 1024, cancellationToken);
    }

    /// <summary>Reads <paramref name="stream"/> until FIN; returns the byte count and SHA-256.</summary>
    public static async Task<(long Length, string Sha256)> ReadToEndHashedAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[64 * 1024];
        long total = 0;
        int n;
        while ((n = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }

        return (total, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    /// <summary>
    /// A Python asyncio client: opens N connections at once (all established before any sends),
    /// then on each either echoes a line (<c>echo</c>) or GETs <c>/bytes/(1000+i)</c> and checks the
    /// i % 251 body (<c>http</c>). Prints <c>connected C/N</c> and <c>answered A/N</c>; exit 0 when all did.
    /// </summary>
    public const string ConcurrentClientScript = """
        import asyncio, resource, sys

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

        host, port, n, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

        async def connect():
            return await asyncio.wait_for(asyncio.open_connection(host, port), 90)

        async def exchange(i, reader, writer):
            try:
                if mode == "echo":
                    message = (f"hello {i} " * 8 + "\n").encode()
                    writer.write(message)
                    await writer.drain()
                    ok = await asyncio.wait_for(reader.readexactly(len(message)), 90) == message
                else:
                    length = 1000 + i
                    writer.write(f"GET /bytes/{length} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                    await writer.drain()
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 90)
                    lines = head.decode("latin-1").split("\r\n")
                    size = [int(l.split(":", 1)[1]) for l in lines if l.lower().startswith("content-length:")]
                    body = await asyncio.wait_for(reader.readexactly(size[0]) if size else reader.read(), 90)
                    ok = lines[0].startswith("HTTP/1.1 200") and body == bytes(j % 251 for j in range(length))
                writer.close()
                return ok
            except Exception as e:
                print(f"connection {i}: {e!r}", file=sys.stderr)
                return False

        async def main():
            results = await asyncio.gather(*(connect() for _ in range(n)), return_exceptions=True)
            opened = [r for r in results if not isinstance(r, BaseException)]
            for r in results:
                if isinstance(r, BaseException):
                    print(f"connect: {r!r}", file=sys.stderr)
            print(f"connected {len(opened)}/{n}", flush=True)
            answers = await asyncio.gather(*(exchange(i, r, w) for i, (r, w) in enumerate(opened)))
            print(f"answered {sum(answers)}/{n}", flush=True)
            return 0 if sum(answers) == n else 1

        sys.exit(asyncio.run(main()))
        """;
}
