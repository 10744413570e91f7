using System.Globalization;
using System.Text;

namespace Protocols.Cli.Demo;

/// <summary>
/// The demo server's HTTP/1.1 side (RFC 9112), over any stream (here the server's SslStream):
/// one request per connection, <c>GET /bytes/N</c> answers N bytes where byte i is i % 251
/// (CLI.md), <c>GET /</c> a short page, anything else 404. The request head is bounded.
/// </summary>
internal static class DemoHttpServer
{
    /// <summary>The largest request head accepted.</summary>
    public const int MaxRequestHead = 16 * 1024;

    /// <summary>The largest /bytes/N served.</summary>
    public const long MaxBytes = 16L << 30;

    private static readonly byte[] Pattern = MakePattern();

    /// <summary>Byte i of a /bytes/N body.</summary>
    public static byte PatternByte(long i) => (byte)(i % 251);

    /// <summary>Serves one request and returns the number of body bytes sent (0 for a bad request).</summary>
    public static async Task<long> ServeAsync(Stream connection, CancellationToken cancellationToken)
    {
        byte[] head = new byte[MaxRequestHead];
        int length = 0;
        int end;
        while ((end = head.AsSpan(0, length).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (length == head.Length)
            {
                await WriteHeadAsync(connection, "431 Request Header Fields Too Large", 0, cancellationToken).ConfigureAwait(false);
                return 0;
            }

            int n = await connection.ReadAsync(head.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return 0;
            }

            length += n;
        }

        // RFC 9112 3: request-line = method SP request-target SP HTTP-version.
        string requestLine = Encoding.ASCII.GetString(head, 0, head.AsSpan(0, end).IndexOf("\r\n"u8) is int eol and >= 0 ? eol : end);
        string[] parts = requestLine.Split(' ');
        if (parts.Length != 3 || parts[0] != "GET")
        {
            await WriteHeadAsync(connection, parts.Length == 3 ? "405 Method Not Allowed" : "400 Bad Request", 0, cancellationToken).ConfigureAwait(false);
            return 0;
        }

        string target = parts[1];
        if (target == "/")
        {
            byte[] page = "Hello from a user-space TCP/IP stack, over TLS.\n"u8.ToArray();
            await WriteHeadAsync(connection, "200 OK", page.Length, cancellationToken, "text/plain").ConfigureAwait(false);
            await connection.WriteAsync(page, cancellationToken).ConfigureAwait(false);
            return page.Length;
        }

        if (!target.StartsWith("/bytes/", StringComparison.Ordinal)
            || !long.TryParse(target.AsSpan("/bytes/".Length), NumberStyles.None, CultureInfo.InvariantCulture, out long count)
            || count > MaxBytes)
        {
            await WriteHeadAsync(connection, "404 Not Found", 0, cancellationToken).ConfigureAwait(false);
            return 0;
        }

        await WriteHeadAsync(connection, "200 OK", count, cancellationToken, "application/octet-stream").ConfigureAwait(false);
        long sent = 0;
        while (sent < count)
        {
            int offset = (int)(sent % 251);
            int n = (int)Math.Min(16 * 1024, count - sent);
            await connection.WriteAsync(Pattern.AsMemory(offset, n), cancellationToken).ConfigureAwait(false);
            sent += n;
        }

        await connection.FlushAsync(cancellationToken).ConfigureAwait(false);
        return sent;
    }

    private static async Task WriteHeadAsync(Stream connection, string status, long contentLength, CancellationToken cancellationToken, string? contentType = null)
    {
        string head = string.Create(CultureInfo.InvariantCulture,
            $"HTTP/1.1 {status}\r\nContent-Length: {contentLength}\r\n{(contentType is null ? string.Empty : $"Content-Type: {contentType}\r\n")}Connection: close\r\n\r\n");
        await connection.WriteAsync(Encoding.ASCII.GetBytes(head), cancellationToken).ConfigureAwait(false);
    }

    private static byte[] MakePattern()
    {
        // Long enough to cut a 16 KiB chunk starting at any offset modulo 251.
        byte[] pattern = new byte[(16 * 1024) + 251];
        for (int i = 0; i < pattern.Length; i++)
        {
            pattern[i] = PatternByte(i);
        }

        return pattern;
    }
}
