using System.CommandLine;
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
/// <param name="Device">The device, the stack's address, gateway and MTU.</param>
/// <param name="OutputPath">Where the body goes (null: standard output).</param>
/// <param name="PcapPath">Where to capture every frame, or null.</param>
internal sealed record GetSettings(FetchRequest Request, DeviceSettings Device, string? OutputPath, string? PcapPath)
{
    /// <summary>The congestion controller of the fetch's connection (--cc), or null for the stack's default.</summary>
    public string? CongestionControl { get; init; }

    /// <summary>The default <c>--timeout</c>.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
}

/// <summary><c>protocols get</c>: HttpClient over the user-space stack on a real device (CLI.md).</summary>
internal sealed class GetVerb : Verb
{
    private readonly Argument<Uri?> _url;
    private readonly DeviceOptions _device;
    private readonly Option<HostMapping[]> _resolve;
    private readonly Option<string?> _output;
    private readonly Option<bool> _insecure;
    private readonly Option<string?> _caCert;
    private readonly Option<int?> _timeout;
    private readonly Option<string?> _pcap;
    private readonly Option<bool> _http2;
    private readonly Option<string?> _cc;

    /// <summary>Declares the verb's argument and options.</summary>
    public GetVerb()
        : base("get",
            "Fetch an http:// or https:// URL through the stack on a TUN device or an Ethernet interface",
            "Fetches URL with .NET's HttpClient running over the user-space stack (addresses --address, IPv4\n" +
            "and/or IPv6) on a Linux device: --tun opens or creates the TUN interface NAME, --raw drives the\n" +
            "Ethernet interface IFACE through AF_PACKET with ARP and neighbour discovery (give one of the\n" +
            "two). URL hosts are IP literals (http://[2001:db8::2]/) or names given with --resolve NAME:IP.\n" +
            "The body goes to FILE (-o) or standard output; status, HTTP version, bytes, time and (https)\n" +
            "the TLS version and cipher go to standard error. https offers HTTP/2 and HTTP/1.1 by ALPN and\n" +
            "uses what the server selects; --http2 insists on HTTP/2. Exits 0 on a 2xx response whose whole\n" +
            "body arrived. Needs root (or CAP_NET_ADMIN / CAP_NET_RAW).")
    {
        _url = Add(new Argument<Uri?>("URL") { Description = "the http:// or https:// URL to fetch", CustomParser = ParseUrl });
        _device = new DeviceOptions(Command);
        _resolve = Add(CommonOptions.Repeated("--resolve", "NAME:IP", "use IP (IPv4 or IPv6) for the host NAME of the URL; repeatable", OptionValues.NamesAndAddresses));
        _output = Add(CommonOptions.Value("-o", "FILE", "write the body to FILE instead of standard output", OptionValues.Path));
        _insecure = Add(CommonOptions.Flag("--insecure", "https: accept any server certificate"));
        _caCert = Add(CommonOptions.Value("--cacert", "FILE", "https: trust only the PEM certificates in FILE", OptionValues.Path));
        _timeout = Add(CommonOptions.Value("--timeout", "SECONDS", "give up after SECONDS (default 30)", OptionValues.OptionalInteger(1, 86_400, "seconds")));
        _pcap = Add(CommonOptions.Pcap());
        _http2 = Add(CommonOptions.Flag("--http2", "use HTTP/2 only: h2 by ALPN for https, prior knowledge (h2c) for http"));
        _cc = Add(CommonOptions.CongestionControl());
    }

    /// <summary>The settings of a parse result without errors; throws <see cref="UsageException"/> naming the flag for a bad combination.</summary>
    public GetSettings Bind(ParseResult parse)
    {
        Uri url = parse.GetValue(_url)!;
        var resolve = new Dictionary<string, IpAddress>(StringComparer.OrdinalIgnoreCase);
        foreach (HostMapping mapping in parse.GetValue(_resolve) ?? [])
        {
            resolve[mapping.Name] = mapping.Address;
        }

        // Uri.Host keeps an IPv6 literal's brackets: [2001:db8::2].
        string host = url.HostNameType == UriHostNameType.IPv6 ? url.Host.Trim('[', ']') : url.Host;
        bool literal = IpAddress.TryParse(host, out IpAddress literalAddress);
        if (!literal && !resolve.ContainsKey(url.Host))
        {
            throw new UsageException($"URL: the host '{url.Host}' is not an IP address (give --resolve {url.Host}:IP)");
        }

        bool insecure = parse.GetValue(_insecure);
        X509Certificate2Collection? roots = null;
        if (parse.GetValue(_caCert) is { } caPath)
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

        TimeSpan timeout = parse.GetValue(_timeout) is { } seconds ? TimeSpan.FromSeconds(seconds) : GetSettings.DefaultTimeout;
        DeviceSettings device = _device.Read(parse);
        IpAddress target = literal ? literalAddress : resolve[url.Host];
        if (target.IsIpv6 ? !device.HasIpv6 : !device.Addresses.Any(a => a.Address.IsIpv4))
        {
            throw new UsageException($"--address: no {(target.IsIpv6 ? "IPv6" : "IPv4")} address to reach {target} from");
        }

        return new GetSettings(new FetchRequest(url, resolve, timeout, insecure, roots, parse.GetValue(_http2)), device, parse.GetValue(_output), parse.GetValue(_pcap))
        {
            CongestionControl = parse.GetValue(_cc),
        };
    }

    private static Uri? ParseUrl(System.CommandLine.Parsing.ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        return Uri.TryCreate(text, UriKind.Absolute, out Uri? url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)
            ? url
            : OptionValues.Fail<Uri?>(result, "an http:// or https:// URL");
    }

    /// <inheritdoc/>
    public override int Run(ParseResult parse, VerbConsole console)
    {
        GetSettings settings = Bind(parse);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("get runs on Linux (TUN and AF_PACKET devices)");
        }

        using var stop = new CancellationTokenSource();
        using LinuxDevice device = settings.Device.Open();
        using PcapTap? tap = settings.PcapPath is null ? null : PcapTap.Create(device, settings.PcapPath);
        using var stack = new NetworkStack(new NetworkStackOptions { Name = "get", Logger = console.Verbose ? new VerboseLogger(console.Error) : null });
        stack.AddInterface((INetworkDevice?)tap ?? device, settings.Device.Configuration);
        TcpLayer tcp = stack.UseTcp(new TcpStackOptions { Name = "get", Defaults = ServeHost.ConnectionDefaults(settings.CongestionControl) });
        Task loop = stack.RunAsync(stop.Token);
        try
        {
            // RFC 4862 5.4: IPv6 addresses are usable once duplicate address detection is over.
            Task.WaitAny(stack.WaitForAddressesAsync(stop.Token), loop, Task.Delay(ServeHost.AddressWait, stop.Token));
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
            $"get: {result.Status} {result.Reason}, {result.Bytes} bytes in {seconds:0.000} s ({result.Bytes * 8 / seconds / 1e6:0.00} Mbit/s), {result.HttpVersionName}");
        if (result.TlsVersion is { } version)
        {
            line += $", {version} {result.TlsCipher}";
        }

        return line;
    }
}
