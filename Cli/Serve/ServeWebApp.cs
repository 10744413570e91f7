using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Protocols.AspNetCore;
using Protocols.Tcp;

namespace Protocols.Cli.Serve;

/// <summary>What the web app of <c>serve</c> listens on.</summary>
/// <param name="HttpPort">Cleartext HTTP/1.1 and h2c (prior knowledge), or null.</param>
/// <param name="HttpsPort">HTTPS with HTTP/1.1 and HTTP/2 by ALPN, or null.</param>
/// <param name="Certificate">The HTTPS certificate (required with <paramref name="HttpsPort"/>).</param>
internal sealed record ServeWebOptions(ushort? HttpPort, ushort? HttpsPort, SslStreamCertificateContext? Certificate)
{
    /// <summary>Log (the app's, Kestrel's and the transport's) to the console's standard error; otherwise nothing is logged.</summary>
    public bool Verbose { get; init; }

    /// <summary>The lowest level logged with <see cref="Verbose"/>.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>Adjusts the stack transport (the demo runs Kestrel's continuations on the simulation's context).</summary>
    public Action<StackTransportOptions>? Transport { get; init; }
}

/// <summary>
/// The ASP.NET Core app of <c>serve --http/--https</c>, on Kestrel over the stack's TCP
/// (<see cref="StackWebHostBuilderExtensions.UseProtocolsStack(IWebHostBuilder, TcpLayer, Action{StackTransportOptions}?)"/>):
/// <c>GET /bytes/N</c> streams N bytes where byte i is i % 251, <c>POST /echo</c> streams the
/// request body back, <c>GET /</c> is a text page. Malformed requests get Kestrel's answers.
/// </summary>
internal static class ServeWebApp
{
    /// <summary>The largest N of <c>GET /bytes/N</c> (1 GiB).</summary>
    public const long MaxGeneratedBytes = 1L << 30;

    /// <summary>The largest request body <c>POST /echo</c> takes (1 GiB; Kestrel answers 413 above).</summary>
    public const long MaxRequestBodyBytes = 1L << 30;

    /// <summary>The text of <c>GET /</c>.</summary>
    public const string IndexText =
        "protocols: a user-space TCP/IP stack for .NET\n" +
        "GET /bytes/N  N bytes where byte i is i % 251\n" +
        "POST /echo    the request body, back\n";

    /// <summary>
    /// Builds the app (not started) with Kestrel listening through <paramref name="tcp"/>, or, when
    /// it is null, on the kernel's own sockets (the benchmark's reference: the same app, another transport).
    /// </summary>
    public static WebApplication Create(TcpLayer? tcp, ServeWebOptions options, ServeWebCounters counters)
    {
        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "protocols-serve" });
        builder.WebHost.UseKestrelCore().UseKestrelHttpsConfiguration();
        if (tcp is not null)
        {
            builder.WebHost.UseProtocolsStack(tcp, options.Transport);
        }
        else
        {
            builder.WebHost.UseSockets();
        }

        builder.Services.AddRoutingCore();
        builder.Logging.ClearProviders();
        if (options.Verbose)
        {
            // Standard output carries only 'ready': every level goes to standard error.
            builder.Logging.SetMinimumLevel(options.LogLevel);
            builder.Logging.AddSimpleConsole(console => console.SingleLine = true);
            builder.Services.Configure<ConsoleLoggerOptions>(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            if (options.HttpPort is { } http)
            {
                if (tcp is not null)
                {
                    // HTTP/1.1, and HTTP/2 with prior knowledge (h2c): the transport tells them apart by the
                    // preface. [::] is dual-stack on the stack: both families when it runs IPv6.
                    kestrel.ListenHttp1AndH2c(new IPEndPoint(IPAddress.IPv6Any, http));
                }
                else
                {
                    kestrel.Listen(IPAddress.Any, http); // kernel sockets: HTTP/1.1 (Kestrel has no h2c split there)
                }
            }

            if (options.HttpsPort is { } https)
            {
                SslStreamCertificateContext certificate = options.Certificate ?? throw new ArgumentException("HTTPS needs a certificate", nameof(options));
                kestrel.Listen(tcp is not null ? IPAddress.IPv6Any : IPAddress.Any, https, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2; // h2 or http/1.1 by ALPN (RFC 7301)
                    listen.UseHttps(new HttpsConnectionAdapterOptions
                    {
                        ServerCertificate = certificate.TargetCertificate,
                        ServerCertificateChain = [.. certificate.IntermediateCertificates],
                    });
                });
            }
        });

        WebApplication app = builder.Build();
        app.MapGet("/", context =>
        {
            counters.CountRequest();
            context.Response.ContentType = "text/plain; charset=utf-8";
            return context.Response.WriteAsync(IndexText);
        });
        app.MapGet("/bytes/{count}", context => BytesAsync(context, counters));
        app.MapPost("/echo", context => EchoAsync(context, counters));
        return app;
    }

    /// <summary>Byte <paramref name="index"/> of every <c>/bytes/N</c> body.</summary>
    public static byte PatternByte(long index) => (byte)(index % 251);

    /// <summary>64 periods of the pattern and one more, so any slice up to <see cref="Slice"/> bytes starts at any phase.</summary>
    private static readonly byte[] Pattern = CreatePattern();

    private const int Slice = 251 * 64;

    private static byte[] CreatePattern()
    {
        byte[] pattern = new byte[Slice + 251];
        for (int i = 0; i < pattern.Length; i++)
        {
            pattern[i] = PatternByte(i);
        }

        return pattern;
    }

    private static async Task BytesAsync(HttpContext context, ServeWebCounters counters)
    {
        counters.CountRequest();
        string? text = context.Request.RouteValues["count"] as string;
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long count))
        {
            await PlainAsync(context, StatusCodes.Status400BadRequest, "expected /bytes/N with N a decimal number\n").ConfigureAwait(false);
            return;
        }

        if (count > MaxGeneratedBytes)
        {
            await PlainAsync(context, StatusCodes.Status400BadRequest, string.Create(CultureInfo.InvariantCulture, $"N must be at most {MaxGeneratedBytes}\n")).ConfigureAwait(false);
            return;
        }

        HttpResponse response = context.Response;
        response.ContentType = "application/octet-stream";
        response.ContentLength = count;
        var writer = response.BodyWriter;
        long position = 0;
        while (position < count)
        {
            int n = (int)Math.Min(Slice, count - position);
            Span<byte> span = writer.GetSpan(n);
            n = Math.Min(n, span.Length);
            Pattern.AsSpan((int)(position % 251), n).CopyTo(span);
            writer.Advance(n);
            position += n;
            if (writer.UnflushedBytes >= 64 * 1024 || position == count)
            {
                var flush = await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
                if (flush.IsCanceled || flush.IsCompleted)
                {
                    break;
                }
            }
        }

        counters.AddBodyBytes(position);
    }

    private static async Task EchoAsync(HttpContext context, ServeWebCounters counters)
    {
        counters.CountRequest();
        HttpRequest request = context.Request;
        HttpResponse response = context.Response;
        response.ContentType = "application/octet-stream";
        if (request.ContentLength is { } length)
        {
            response.ContentLength = length;
        }

        // The response starts with the first flush, after the first read: a body Kestrel refuses
        // (too large, bad chunk) still gets its 413 or 400; from then on the body streams back.
        var reader = request.BodyReader;
        var writer = response.BodyWriter;
        long echoed = 0;
        while (true)
        {
            var read = await reader.ReadAsync(context.RequestAborted).ConfigureAwait(false);
            foreach (ReadOnlyMemory<byte> segment in read.Buffer)
            {
                writer.Write(segment.Span);
            }

            echoed += read.Buffer.Length;
            reader.AdvanceTo(read.Buffer.End);
            var flush = await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            if (read.IsCompleted || flush.IsCompleted || flush.IsCanceled)
            {
                break;
            }
        }

        counters.AddBodyBytes(echoed);
    }

    private static Task PlainAsync(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text, Encoding.UTF8);
    }
}

/// <summary>What the web app of <c>serve</c> did, for the summary line at exit.</summary>
internal sealed class ServeWebCounters
{
    private long _requests;
    private long _bodyBytes;

    /// <summary>Requests that reached a resource (Kestrel's own rejections are in its meter).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Body bytes sent by <c>/bytes/N</c> and <c>/echo</c>.</summary>
    public long BodyBytesSent => Interlocked.Read(ref _bodyBytes);

    /// <summary>Counts one request.</summary>
    public void CountRequest() => Interlocked.Increment(ref _requests);

    /// <summary>Adds body bytes sent.</summary>
    public void AddBodyBytes(long bytes) => Interlocked.Add(ref _bodyBytes, bytes);
}
