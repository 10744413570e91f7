using System.Diagnostics;
using System.Globalization;
using Protocols.Tls;

namespace Protocols.Cli.Demo;

/// <summary>
/// The demo's output: section titles, packet lines, TLS record lines and notes, each stamped with
/// the seconds since the start, written whole from any thread (the stacks' loops, TLS and HTTP
/// continuations). Quiet mode prints nothing here; the summary line is written by the verb.
/// </summary>
internal sealed class DemoConsole
{
    private readonly TextWriter _out;
    private readonly bool _quiet;
    private readonly Stopwatch _stopwatch = Stopwatch.StartNew();
    private Func<TimeSpan> _clock;
    private readonly Lock _lock = new();
    private long _bulkRecords;
    private long _bulkBytes;
    private int _explainedEncryptedHandshake;

    public DemoConsole(TextWriter output, bool quiet)
    {
        _out = output;
        _quiet = quiet;
        _clock = () => _stopwatch.Elapsed;
    }

    /// <summary>Stamps lines with <paramref name="elapsed"/> (the stacks' clock since the start) instead of real time.</summary>
    public void UseClock(Func<TimeSpan> elapsed) => _clock = elapsed;

    /// <summary>Time since the start, on the stacks' clock.</summary>
    public TimeSpan Elapsed => _clock();

    /// <summary>"1.0 MiB", "64.0 KiB", "512 B".</summary>
    public static string Bytes(long bytes) => bytes switch
    {
        >= 1 << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1 << 30):0.0} GiB"),
        >= 1 << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1 << 20):0.0} MiB"),
        >= 1 << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };

    /// <summary>A line as is (the banner).</summary>
    public void Line(string text = "")
    {
        if (!_quiet)
        {
            lock (_lock)
            {
                _out.WriteLine(text);
            }
        }
    }

    /// <summary>A section title: <c>--- TCP three-way handshake ---</c>.</summary>
    public void Section(string title) => Line($"--- {title} ---");

    /// <summary>A packet seen on the client's link end (tcpdump's description).</summary>
    public void Packet(bool outbound, string description) =>
        Stamped($"{(outbound ? "client >" : "client <")} {description}");

    /// <summary>A note between the lines (elided segments, HTTP events).</summary>
    public void Note(string text) => Stamped($"         {text}");

    /// <summary>A TLS record the client's TLS layer wrote or read (decoded by the tracing stream).</summary>
    public void TlsRecord(TlsRecordEvent record)
    {
        // The bulk of a transfer is alike application data records: show the first, count the rest.
        if (record.ContentType == TlsContentType.ApplicationData && record.Length > 1000)
        {
            long n = Interlocked.Increment(ref _bulkRecords);
            Interlocked.Add(ref _bulkBytes, record.Length);
            if (n > 1)
            {
                return;
            }
        }

        Stamped($"  TLS {(record.Direction == TlsTraceDirection.Sent ? "client -> server" : "server -> client")}: {record}");
        if (record.IsEncryptedHandshake && Interlocked.Exchange(ref _explainedEncryptedHandshake, 1) == 0)
        {
            Note("(TLS 1.3 encrypts everything after the ServerHello: EncryptedExtensions, Certificate, CertificateVerify, Finished; --keylog lets Wireshark decrypt them)");
        }
    }

    /// <summary>How many large application data records were counted rather than shown.</summary>
    public (long Records, long Bytes) BulkRecords => (Interlocked.Read(ref _bulkRecords), Interlocked.Read(ref _bulkBytes));

    private void Stamped(string text)
    {
        if (_quiet)
        {
            return;
        }

        lock (_lock)
        {
            _out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_clock().TotalSeconds,9:0.000000} {text}"));
        }
    }
}
