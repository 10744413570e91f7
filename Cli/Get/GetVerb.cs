using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Protocols.Cli.CommandLine;
using Protocols.Cli.Serve;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Devices.Linux;
using Protocols.Tcp;
using Protocols.Tls;
using Protocols.Wire;

namespace Protocols.Cli.Get;

/// <summary>The validated options of <c>protocols get</c>.</summary>
/// <param name="Request">What to fetch.</param>
/// <param name="DeviceKind">TUN or raw.</param>
/// <param name="DeviceName">The interface name.</param>
/// <param name="Address">The stack's own address.</param>
/// <param name="PrefixLength">The subnet's prefix length.</param>
/// <param name="Gateway">The router for off-link destinations, or null.</param>
/// <param name="OutputPath">Where the body goes (null: standard output).</param>
/// <param name="PcapPath">Where to capture every frame, or null.</param>
internal sealed record GetSettings(FetchRequest Request, ServeDeviceKind DeviceKind, string DeviceName, Ipv4Address Address, int PrefixLength, Ipv4Address? Gateway, string? OutputPath, string? PcapPath)
{
    /// <summary>The default <c>--timeout</c>.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Checks the parsed command line; throws <see cref="UsageException"/> naming the flag.</summary>
    public static GetSettings From(ParsedArguments arguments)
    {
        string text = arguments.Positionals[0];
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw new UsageException($"URL: expected an http:// or https:// URL, got '{text}'");
        }

        var resolve = new Dictionary<string, Ipv4Address>(StringComparer.OrdinalIgnoreCase);
        if (arguments.GetPath("--resolve") is { } mapping)
        {
            int colon = mapping.LastIndexOf(':');
            if (colon <= 0 || !Ipv4Address.TryParse(mapping.AsSpan(colon + 1), out Ipv4Address mapped))
            {
                throw new UsageException($"--resolve: expected NAME:A.B.C.D, got '{mapping}'");
            }

            resolve[mapping[..colon]] = mapped;
        }

        if (!Ipv4Address.TryParse(url.Host, out _) && !resolve.ContainsKey(url.Host))
        {
            throw new UsageException($"URL: the host '{url.Host}' is not an IPv4 address (give --resolve {url.Host}:A.B.C.D)");
        }

        bool insecure = arguments.Has("--insecure");
        X509Certificate2Collection? roots = null;
        if (arguments.GetPath("--cacert") is { } caPath)
        {
            if (insecure)
            {
                throw new UsageException("--cacert: give either --cacert or --insecure, not both");
            }

            try
            {
                roots = TlsCertificates.LoadPemBundle(caPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw new UsageException($"--cacert: cannot read certificates from '{caPath}': {e.Message}");
            }
        }

        if ((insecure || roots is not null) && url.Scheme != Uri.UriSchemeHttps)
        {
            throw new UsageException($"{(insecure ? "--insecure" : "--cacert")}: only for https:// URLs");
        }

        TimeSpan timeout = DefaultTimeout;
        if (arguments.Has("--timeout"))
        {
            long seconds = arguments.GetInteger("--timeout", 0);
            if (seconds > 86_400)
            {
                throw new UsageException($"--timeout: expected 1 to 86400 seconds, got {seconds}");
            }

            timeout = TimeSpan.FromSeconds(seconds);
        }

        (ServeDeviceKind kind, string device, Ipv4Address address, int prefixLength, Ipv4Address? gateway, _) = ServeSettings.ParseDevice(arguments);
        return new GetSettings(new FetchRequest(url, resolve, timeout, insecure, roots), kind, device, address, prefixLength, gateway, arguments.GetPath("-o"), arguments.GetPath("--pcap"));
    }
}

/// <summary><c>protocols get</c>: HttpClient over the user-space stack on a real device (CLI.md).</summary>
internal sealed class GetVerb : Verb
{
    /// <inheritdoc/>
    public override string Name => "get";

    /// <inheritdoc/>
    public override string Summary => "fetch an http:// or https:// URL through the stack on a TUN device or an Ethernet interface";

    /// <inheritdoc/>
    public override string Usage => "protocols get URL (--tun NAME | --raw IFACE) --address A.B.C.D/LEN [--gateway G] [--resolve NAME:IP] [-o FILE] [--insecure] [--cacert FILE] [--timeout SECONDS] [--pcap FILE]";

    /// <inheritdoc/>
    public override string Description =>
        "Fetches URL with .NET's HttpClient running over the user-space stack (address --address) on a\n" +
        "Linux device: --tun opens or creates the TUN interface NAME, --raw drives the Ethernet interface\n" +
        "IFACE through AF_PACKET with ARP. The body goes to FILE (-o) or standard output; status, bytes,\n" +
        "time and (https) the TLS version and cipher go to standard error. Exits 0 on a 2xx response\n" +
        "whose whole body arrived. Needs root (or CAP_NET_ADMIN / CAP_NET_RAW).";

    /// <inheritdoc/>
    public override int MinPositionals => 1;

    /// <inheritdoc/>
    public override int MaxPositionals => 1;

    /// <inheritdoc/>
    public override string PositionalName => "URL";

    /// <inheritdoc/>
    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--tun", OptionKind.Path, "NAME", "the TUN interface to create or attach to"),
        new("--raw", OptionKind.Path, "IFACE", "an existing Ethernet interface to drive through AF_PACKET"),
        new("--address", OptionKind.Path, "A.B.C.D/LEN", "the stack's own address and prefix length (required)"),
        new("--gateway", OptionKind.Path, "G", "the router for destinations off the subnet"),
        new("--resolve", OptionKind.Path, "NAME:IP", "use IP for the host NAME of the URL"),
        new("-o", OptionKind.Path, "FILE", "write the body to FILE instead of standard output"),
        new("--insecure", OptionKind.Flag, "", "https: accept any server certificate"),
        new("--cacert", OptionKind.Path, "FILE", "https: trust only the PEM certificates in FILE"),
        new("--timeout", OptionKind.PositiveInteger, "SECONDS", "give up after SECONDS (default 30)"),
        new("--pcap", OptionKind.Path, "FILE", "write every frame in and out to FILE as pcap"),
    ];

    /// <inheritdoc/>
    public override int Run(ParsedArguments arguments, VerbConsole console)
    {
        GetSettings settings = GetSettings.From(arguments);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("get runs on Linux (TUN and AF_PACKET devices)");
        }

        using var stop = new CancellationTokenSource();
        using LinuxDevice device = settings.DeviceKind == ServeDeviceKind.Tun
            ? TunDevice.Open(settings.DeviceName)
            : RawPacketDevice.Open(settings.DeviceName);
        using PcapTap? tap = settings.PcapPath is null ? null : PcapTap.Create(device, settings.PcapPath);
        using var stack = new NetworkStack(new NetworkStackOptions { Name = "get" });
        stack.AddInterface((INetworkDevice?)tap ?? device, settings.Address, settings.PrefixLength, settings.Gateway);
        TcpLayer tcp = stack.UseTcp(new TcpStackOptions { Name = "get" });
        Task loop = stack.RunAsync(stop.Token);
        try
        {
            return Fetch(tcp, settings, console, stop.Token);
        }
        finally
        {
            // The HttpClient is disposed: let the loop send the FIN (or RST) of its connection, then stop.
            TcpServices.FlushAsync(tcp, FlushGrace).GetAwaiter().GetResult();
            stop.Cancel();
            try
            {
                loop.GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>The longest <see cref="TcpServices.FlushAsync"/> waits for the last segments to leave.</summary>
    public static readonly TimeSpan FlushGrace = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Fetches <paramref name="settings"/>' URL over <paramref name="tcp"/> (whose stack's loop runs)
    /// into standard output or <c>-o FILE</c>. The file is written as a temporary file in the same
    /// directory and moved over FILE only on success, so a failed fetch leaves FILE as it was.
    /// Success prints the summary line on standard error and returns 0; a non-2xx status or a short
    /// body prints one <c>error:</c> line (status and bytes included) and returns 1; a fetch that
    /// gets no response throws <see cref="IOException"/> (one line, from <see cref="Explain"/>).
    /// </summary>
    public static int Fetch(TcpLayer tcp, GetSettings settings, VerbConsole console, CancellationToken cancellationToken)
    {
        // A device or a pipe (-o /dev/null) is written in place: renaming over it would replace it.
        string? target = settings.OutputPath is null ? null : ResolveOutputPath(settings.OutputPath);
        bool inPlace = target is not null && IsSpecialFile(target);
        string? temporary = target is null || inPlace ? null : TemporaryPathFor(target);
        FetchResult result;
        try
        {
            using (Stream output = temporary is not null ? new FileStream(temporary, FileMode.CreateNew, FileAccess.Write)
                : inPlace ? new FileStream(target!, FileMode.Open, FileAccess.Write) : console.OpenBinaryOut())
            {
                try
                {
                    result = StackHttpFetcher.FetchAsync(tcp, settings.Request, output, cancellationToken).GetAwaiter().GetResult();
                }
                catch (HttpRequestException e)
                {
                    throw new IOException(Explain(e), e);
                }
            }

            if (result.Succeeded && temporary is not null)
            {
                File.Move(temporary, target!, overwrite: true);
                temporary = null;
            }
        }
        finally
        {
            if (temporary is not null)
            {
                File.Delete(temporary);
            }
        }

        if (!result.Succeeded)
        {
            console.Error.WriteLine(DescribeFailure(result));
            return CliApp.Failure;
        }

        console.Error.WriteLine(Describe(result));
        return CliApp.Success;
    }

    /// <summary>The one stderr line of a fetch that got a response but did not succeed.</summary>
    public static string DescribeFailure(FetchResult result) =>
        result.Complete
            ? string.Create(CultureInfo.InvariantCulture, $"error: HTTP {result.Status} {result.Reason} ({result.Bytes} body bytes, not written)")
            : string.Create(CultureInfo.InvariantCulture, $"error: HTTP {result.Status} {result.Reason}, but the body ended after {result.Bytes} bytes (connection closed or reset)");

    /// <summary>
    /// True for an existing file under <c>/dev</c> or <c>/proc</c> (a device such as <c>/dev/null</c> or
    /// <c>/dev/stdout</c>): .NET does not expose the file type, and probing by opening would block on a pipe.
    /// </summary>
    private static bool IsSpecialFile(string path)
    {
        string full = Path.GetFullPath(path);
        return File.Exists(full) && (full.StartsWith("/dev/", StringComparison.Ordinal) || full.StartsWith("/proc/", StringComparison.Ordinal));
    }

    /// <summary>A name for a temporary file beside <paramref name="path"/> (same directory, so the move is a rename).</summary>
    // Through a symbolic link, the file it points to is replaced; a path that does not exist yet
    // (the usual -o) is used as it is (File.ResolveLinkTarget throws for a missing file).
    private static string ResolveOutputPath(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is null)
        {
            return path;
        }

        try
        {
            return info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
        }
        catch (IOException)
        {
            return path; // a dangling or looping link: replace the link itself
        }
    }

    private static string TemporaryPathFor(string path)
    {
        string full = Path.GetFullPath(path);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.partial");
    }

    /// <summary>HttpClient's message and the innermost cause on one line ("The SSL connection could not be established: ...").</summary>
    public static string Explain(Exception e)
    {
        Exception inner = e;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        string outer = e.Message.Replace(", see inner exception", string.Empty, StringComparison.Ordinal).TrimEnd('.');
        return ReferenceEquals(inner, e) || outer.Contains(inner.Message, StringComparison.Ordinal) ? outer : $"{outer}: {inner.Message}";
    }

    /// <summary>The summary line on standard error.</summary>
    public static string Describe(FetchResult result)
    {
        double seconds = Math.Max(result.Elapsed.TotalSeconds, 1e-6);
        string line = string.Create(CultureInfo.InvariantCulture,
            $"get: {result.Status} {result.Reason}, {result.Bytes} bytes in {seconds:0.000} s ({result.Bytes * 8 / seconds / 1e6:0.00} Mbit/s)");
        if (result.TlsVersion is { } version)
        {
            line += $", {version} {result.TlsCipher}";
        }

        return line;
    }
}
