namespace Protocols.Tls;

/// <summary>
/// Writes TLS secrets in the NSS key log format (<c>CLIENT_HANDSHAKE_TRAFFIC_SECRET &lt;client
/// random&gt; &lt;secret&gt;</c> lines...) so Wireshark or tshark can decrypt a capture of the
/// connections. Uses .NET's own support: the <c>SSLKEYLOGFILE</c> variable, honoured when the
/// <c>System.Net.EnableSslKeyLogging</c> AppContext switch is on. .NET reads both once, when the
/// process makes its first SslStream; after that the file cannot change, so call
/// <see cref="Enable"/> before any TLS (the CLI does it first thing). Every SslStream of the
/// process (clients and servers, HttpClient's too) then appends its secrets to the file.
/// </summary>
public static class TlsKeyLog
{
    /// <summary>The environment variable .NET (and OpenSSL-based tools) read.</summary>
    public const string EnvironmentVariable = "SSLKEYLOGFILE";

    /// <summary>The AppContext switch that allows .NET to honour <see cref="EnvironmentVariable"/>.</summary>
    public const string AppContextSwitch = "System.Net.EnableSslKeyLogging";

    private static readonly Lock Gate = new();
    private static string? _path;
    private static bool _tlsStarted;

    /// <summary>The key log file in effect for this process, or null.</summary>
    public static string? Path
    {
        get
        {
            lock (Gate)
            {
                return _path ?? (AppContext.TryGetSwitch(AppContextSwitch, out bool on) && on ? Environment.GetEnvironmentVariable(EnvironmentVariable) : null);
            }
        }
    }

    /// <summary>
    /// Turns key logging on for this process, to <paramref name="path"/> (made absolute; .NET appends,
    /// so delete the file first for a log of this run only).
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// A TLS connection was already made through this library with another (or no) key log file:
    /// .NET would ignore the new one. Start the process with <c>SSLKEYLOGFILE</c> set instead.
    /// </exception>
    public static void Enable(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        lock (Gate)
        {
            string? current = Path;
            if (_tlsStarted && !string.Equals(current, full, StringComparison.Ordinal))
            {
                throw new InvalidOperationException(
                    $"TLS key logging must be enabled before the first TLS connection of the process (.NET reads {EnvironmentVariable} once); " +
                    $"it is {(current is null ? "off" : $"writing to {current}")}. Set {EnvironmentVariable}={full} when starting the process instead.");
            }

            Environment.SetEnvironmentVariable(EnvironmentVariable, full);
            AppContext.SetSwitch(AppContextSwitch, true);
            _path = full;
        }
    }

    /// <summary>Records that this library is about to make an SslStream (after which the file is fixed).</summary>
    internal static void MarkTlsStarted()
    {
        if (!Volatile.Read(ref _tlsStarted))
        {
            lock (Gate)
            {
                _tlsStarted = true;
            }
        }
    }
}
