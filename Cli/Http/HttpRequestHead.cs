using System.Globalization;
using System.Text;

namespace Protocols.Cli.Http;

/// <summary>A request that cannot be served: the status to answer with (then the connection closes).</summary>
/// <param name="Status">The response status (400, 413, 414, 431, 501, 505...).</param>
/// <param name="Reason">A short explanation sent as the response body.</param>
internal sealed record HttpRejection(int Status, string Reason);

/// <summary>How the request's body is delimited (RFC 9112 6.3).</summary>
internal enum HttpBodyKind
{
    /// <summary>No body.</summary>
    None,

    /// <summary><c>Content-Length</c> bytes.</summary>
    ContentLength,

    /// <summary><c>Transfer-Encoding: chunked</c>.</summary>
    Chunked,
}

/// <summary>A parsed request line and header section (RFC 9112 2-5).</summary>
internal sealed class HttpRequestHead
{
    private readonly List<KeyValuePair<string, string>> _headers = [];

    /// <summary>The method, e.g. <c>GET</c> (case-sensitive, RFC 9110 9.1).</summary>
    public string Method { get; private set; } = "";

    /// <summary>The request target as sent.</summary>
    public string Target { get; private set; } = "";

    /// <summary>The path of the target without the query (absolute-form targets reduced to their path).</summary>
    public string Path { get; private set; } = "";

    /// <summary>The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.</summary>
    public int MinorVersion { get; private set; }

    /// <summary>The header fields in order; names as sent.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    /// <summary>How the body is delimited.</summary>
    public HttpBodyKind BodyKind { get; private set; }

    /// <summary>The body length when <see cref="BodyKind"/> is <see cref="HttpBodyKind.ContentLength"/>.</summary>
    public long ContentLength { get; private set; }

    /// <summary>Whether the connection stays open after the response (RFC 9112 9.3).</summary>
    public bool KeepAlive { get; private set; }

    /// <summary>Whether the client waits for <c>100 Continue</c> before sending the body (RFC 9110 10.1.1).</summary>
    public bool ExpectContinue { get; private set; }

    /// <summary>The first value of the header <paramref name="name"/> (case-insensitive), or null.</summary>
    public string? GetHeader(string name)
    {
        foreach (KeyValuePair<string, string> header in _headers)
        {
            if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return header.Value;
            }
        }

        return null;
    }

    /// <summary>
    /// Parses a request head: <paramref name="head"/> holds the request line and the header lines,
    /// each ended by LF or CRLF, without the empty line that ends the section. Never throws on
    /// hostile input: returns null and sets <paramref name="error"/> instead.
    /// </summary>
    public static HttpRequestHead? TryParse(ReadOnlySpan<byte> head, HttpServerOptions limits, out HttpRejection? error)
    {
        var request = new HttpRequestHead();
        error = null;
        int newline = head.IndexOf((byte)'\n');
        ReadOnlySpan<byte> requestLine = TrimCr(newline < 0 ? head : head[..newline]);
        ReadOnlySpan<byte> rest = newline < 0 ? default : head[(newline + 1)..];
        if (requestLine.Length > limits.MaxRequestLineLength)
        {
            error = new HttpRejection(414, "request line too long");
            return null;
        }

        if ((error = request.ParseRequestLine(requestLine)) is not null)
        {
            return null;
        }

        while (!rest.IsEmpty)
        {
            newline = rest.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = TrimCr(newline < 0 ? rest : rest[..newline]);
            rest = newline < 0 ? default : rest[(newline + 1)..];
            if (request._headers.Count == limits.MaxHeaderCount)
            {
                error = new HttpRejection(431, $"more than {limits.MaxHeaderCount} header fields");
                return null;
            }

            if ((error = request.ParseField(line)) is not null)
            {
                return null;
            }
        }

        error = request.Interpret();
        return error is null ? request : null;
    }

    /// <summary>RFC 9112 3: method SP request-target SP HTTP-version.</summary>
    private HttpRejection? ParseRequestLine(ReadOnlySpan<byte> line)
    {
        int firstSpace = line.IndexOf((byte)' ');
        int lastSpace = line.LastIndexOf((byte)' ');
        if (firstSpace <= 0 || lastSpace == firstSpace)
        {
            return new HttpRejection(400, "malformed request line");
        }

        ReadOnlySpan<byte> method = line[..firstSpace];
        ReadOnlySpan<byte> target = line[(firstSpace + 1)..lastSpace];
        ReadOnlySpan<byte> version = line[(lastSpace + 1)..];
        if (!IsToken(method) || target.IsEmpty || target.IndexOfAnyInRange((byte)0, (byte)' ') >= 0 || target.Contains((byte)0x7F))
        {
            return new HttpRejection(400, "malformed request line");
        }

        // RFC 9112 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT (case-sensitive).
        if (version.Length != 8 || !version.StartsWith("HTTP/"u8) || version[6] != '.' || !char.IsAsciiDigit((char)version[5]) || !char.IsAsciiDigit((char)version[7]))
        {
            return new HttpRejection(400, "malformed HTTP version");
        }

        if (version[5] != '1')
        {
            return new HttpRejection(505, "only HTTP/1.x is supported");
        }

        Method = Encoding.ASCII.GetString(method);
        Target = Encoding.Latin1.GetString(target);
        MinorVersion = Math.Min(version[7] - '0', 1); // RFC 9110 2.5: HTTP/1.2+ is answered as 1.1
        string path = Target;
        if (path.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            // RFC 9112 3.2.2 absolute-form: keep the path.
            int slash = path.IndexOf('/', path.IndexOf("//", StringComparison.Ordinal) + 2);
            path = slash < 0 ? "/" : path[slash..];
        }
        else if (!path.StartsWith('/') && path != "*")
        {
            return new HttpRejection(400, "malformed request target");
        }

        int query = path.IndexOfAny(['?', '#']);
        Path = query < 0 ? path : path[..query];
        return null;
    }

    /// <summary>RFC 9112 5: field-name ":" OWS field-value OWS.</summary>
    private HttpRejection? ParseField(ReadOnlySpan<byte> line)
    {
        if (line.IsEmpty)
        {
            return new HttpRejection(400, "empty header line");
        }

        if (line[0] is (byte)' ' or (byte)'\t')
        {
            return new HttpRejection(400, "obsolete line folding"); // RFC 9112 5.2
        }

        int colon = line.IndexOf((byte)':');
        if (colon <= 0 || !IsToken(line[..colon]))
        {
            // RFC 9112 5.1: no whitespace between the field name and the colon.
            return new HttpRejection(400, "malformed header field");
        }

        ReadOnlySpan<byte> value = line[(colon + 1)..].Trim(" \t"u8);
        foreach (byte b in value)
        {
            // RFC 9110 5.5: CR, LF and NUL are never allowed in a field value.
            if (b is 0 or (byte)'\r' or (byte)'\n' || (b < 0x20 && b != '\t') || b == 0x7F)
            {
                return new HttpRejection(400, "invalid character in a header value");
            }
        }

        _headers.Add(new(Encoding.ASCII.GetString(line[..colon]), Encoding.Latin1.GetString(value)));
        return null;
    }

    /// <summary>The fields that matter to the server: Host, framing (RFC 9112 6.3), Connection, Expect.</summary>
    private HttpRejection? Interpret()
    {
        int hosts = 0;
        string? contentLength = null;
        string? transferEncoding = null;
        bool close = false, keepAlive = false;
        foreach ((string name, string value) in _headers)
        {
            if (name.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                hosts++;
            }
            else if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                // RFC 9110 8.6: a list of identical values may be treated as one; anything else is invalid.
                foreach (string part in value.Split(','))
                {
                    string item = part.Trim(' ', '\t');
                    if (contentLength is not null && contentLength != item)
                    {
                        return new HttpRejection(400, "conflicting Content-Length");
                    }

                    contentLength = item;
                }
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                transferEncoding = transferEncoding is null ? value : transferEncoding + "," + value;
            }
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                foreach (string part in value.Split(','))
                {
                    string option = part.Trim(' ', '\t');
                    close |= option.Equals("close", StringComparison.OrdinalIgnoreCase);
                    keepAlive |= option.Equals("keep-alive", StringComparison.OrdinalIgnoreCase);
                }
            }
            else if (name.Equals("Expect", StringComparison.OrdinalIgnoreCase))
            {
                if (!value.Equals("100-continue", StringComparison.OrdinalIgnoreCase))
                {
                    return new HttpRejection(417, "only Expect: 100-continue is supported"); // RFC 9110 10.1.1
                }

                ExpectContinue = MinorVersion >= 1;
            }
        }

        // RFC 9112 3.2: an HTTP/1.1 request has exactly one Host field.
        if (hosts > 1 || (hosts == 0 && MinorVersion >= 1))
        {
            return new HttpRejection(400, hosts == 0 ? "missing Host" : "more than one Host");
        }

        KeepAlive = MinorVersion >= 1 ? !close : keepAlive && !close; // RFC 9112 9.3
        if (transferEncoding is not null)
        {
            // RFC 9112 6.3 (3): Transfer-Encoding with Content-Length may be a smuggling attempt: refuse.
            if (contentLength is not null)
            {
                return new HttpRejection(400, "both Transfer-Encoding and Content-Length");
            }

            if (MinorVersion == 0)
            {
                return new HttpRejection(400, "Transfer-Encoding in an HTTP/1.0 request"); // RFC 9112 6.1
            }

            // RFC 9112 6.1: only "chunked" is understood here, and it must be the last (here: only) coding.
            if (!transferEncoding.Trim(' ', '\t').Equals("chunked", StringComparison.OrdinalIgnoreCase))
            {
                return new HttpRejection(501, "only Transfer-Encoding: chunked is supported");
            }

            BodyKind = HttpBodyKind.Chunked;
            return null;
        }

        if (contentLength is not null)
        {
            if (contentLength.Length is 0 or > 18 || !long.TryParse(contentLength, NumberStyles.None, CultureInfo.InvariantCulture, out long length))
            {
                return new HttpRejection(400, "invalid Content-Length");
            }

            ContentLength = length;
            BodyKind = length == 0 ? HttpBodyKind.None : HttpBodyKind.ContentLength;
        }

        return null;
    }

    private static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> line) => line.EndsWith("\r"u8) ? line[..^1] : line;

    /// <summary>RFC 9110 5.6.2: token = 1*tchar.</summary>
    private static bool IsToken(ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty)
        {
            return false;
        }

        foreach (byte b in text)
        {
            bool ok = b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9'
                || "!#$%&'*+-.^_`|~"u8.Contains(b);
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}
