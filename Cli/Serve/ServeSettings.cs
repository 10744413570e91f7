using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography;
using Protocols.Cli.CommandLine;
using Protocols.Tls;
using Protocols.Wire;

namespace Protocols.Cli.Serve;

/// <summary>Which kind of Linux device <c>serve</c> runs on.</summary>
internal enum ServeDeviceKind
{
    /// <summary><c>--tun NAME</c>: a TUN interface, created or attached.</summary>
    Tun,

    /// <summary><c>--raw IFACE</c>: an existing Ethernet interface through AF_PACKET.</summary>
    Raw,
}

/// <summary>The validated options of <c>protocols serve</c>.</summary>
/// <param name="DeviceKind">TUN or raw.</param>
/// <param name="DeviceName">The interface name.</param>
/// <param name="Address">The stack's own address.</param>
/// <param name="PrefixLength">The subnet's prefix length.</param>
/// <param name="Gateway">The gateway for off-link destinations, or null.</param>
/// <param name="Mtu">The MTU to use instead of the interface's, or null.</param>
/// <param name="UdpEchoPort">The UDP echo server's port, or null.</param>
/// <param name="PcapPath">Where to capture every frame, or null.</param>
/// <param name="HttpPort">The HTTP server's port, or null.</param>
/// <param name="EchoPort">The TCP echo server's port, or null.</param>
/// <param name="HttpsPort">The HTTPS server's port, or null.</param>
/// <param name="Certificate">The HTTPS certificate loaded from --cert/--key, or null for a self-signed one made at start.</param>
internal sealed record ServeSettings(
    ServeDeviceKind DeviceKind,
    string DeviceName,
    Ipv4Address Address,
    int PrefixLength,
    Ipv4Address? Gateway,
    int? Mtu,
    ushort? UdpEchoPort,
    string? PcapPath,
    ushort? HttpPort = null,
    ushort? EchoPort = null,
    ushort? HttpsPort = null,
    SslStreamCertificateContext? Certificate = null)
{
    /// <summary>Checks the parsed command line; throws <see cref="UsageException"/> naming the flag.</summary>
    public static ServeSettings From(ParsedArguments arguments)
    {
        (ServeDeviceKind kind, string device, Ipv4Address own, int prefixLength, Ipv4Address? gateway, int? mtu) = ParseDevice(arguments);
        ushort? echo = Port(arguments, "--udp-echo");
        ushort? http = Port(arguments, "--http");
        ushort? tcpEcho = Port(arguments, "--echo");
        ushort? https = Port(arguments, "--https");
        if (http is not null && http == tcpEcho)
        {
            throw new UsageException($"--echo: port {tcpEcho} is already the --http port");
        }

        if (https is not null && (https == http || https == tcpEcho))
        {
            throw new UsageException($"--https: port {https} is already the {(https == http ? "--http" : "--echo")} port");
        }

        string? cert = arguments.GetPath("--cert");
        string? key = arguments.GetPath("--key");
        if ((cert is null) != (key is null))
        {
            throw new UsageException(cert is null ? "--cert: required with --key" : "--key: required with --cert");
        }

        SslStreamCertificateContext? certificate = null;
        if (cert is not null)
        {
            if (https is null)
            {
                throw new UsageException("--cert: only with --https");
            }

            try
            {
                certificate = TlsCertificates.LoadPemContext(cert, key!);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                throw new UsageException($"--cert: cannot load '{cert}' with the key '{key}': {e.Message}");
            }
        }

        return new ServeSettings(kind, device, own, prefixLength, gateway, mtu, echo, arguments.GetPath("--pcap"), http, tcpEcho, https, certificate);
    }

    /// <summary>The device options shared by <c>serve</c> and <c>get</c>: --tun/--raw, --address, --gateway, --mtu.</summary>
    public static (ServeDeviceKind Kind, string Device, Ipv4Address Address, int PrefixLength, Ipv4Address? Gateway, int? Mtu) ParseDevice(ParsedArguments arguments)
    {
        string? tun = arguments.GetPath("--tun");
        string? raw = arguments.GetPath("--raw");
        if ((tun is null) == (raw is null))
        {
            throw new UsageException(tun is null ? "--tun or --raw: one device is required" : "--raw: give either --tun or --raw, not both");
        }

        ServeDeviceKind kind = tun is null ? ServeDeviceKind.Raw : ServeDeviceKind.Tun;
        string device = tun ?? raw!;
        if (!IsInterfaceName(device))
        {
            throw new UsageException($"{(kind == ServeDeviceKind.Tun ? "--tun" : "--raw")}: '{device}' is not an interface name (1 to 15 printable characters, no '/', ':' or spaces)");
        }

        string address = arguments.GetPath("--address") ?? throw new UsageException("--address: required (the stack's own address, e.g. 10.66.0.2/24)");
        if (!TryParsePrefix(address, out Ipv4Address own, out int prefixLength))
        {
            throw new UsageException($"--address: expected A.B.C.D/LEN with LEN 0 to 32, got '{address}'");
        }

        if (IsUnusableHostAddress(own))
        {
            throw new UsageException($"--address: {own} cannot be a host's own address");
        }

        Ipv4Address? gateway = null;
        if (arguments.GetPath("--gateway") is { } gatewayText)
        {
            if (!Ipv4Address.TryParse(gatewayText, out Ipv4Address gw))
            {
                throw new UsageException($"--gateway: expected an IPv4 address, got '{gatewayText}'");
            }

            uint mask = prefixLength == 0 ? 0 : uint.MaxValue << (32 - prefixLength);
            if ((gw.ToUInt32() & mask) != (own.ToUInt32() & mask) || gw == own)
            {
                throw new UsageException($"--gateway: {gw} is not another host on {own}/{prefixLength}");
            }

            gateway = gw;
        }

        int? mtu = null;
        if (arguments.Has("--mtu"))
        {
            long value = arguments.GetInteger("--mtu", 0);
            if (value is < 68 or > 65535)
            {
                throw new UsageException($"--mtu: expected 68 to 65535 (RFC 791), got {value}");
            }

            mtu = (int)value;
        }

        return (kind, device, own, prefixLength, gateway, mtu);
    }

    /// <summary>A port option: null when absent, else 1 to 65535 (throws naming the flag).</summary>
    public static ushort? Port(ParsedArguments arguments, string option)
    {
        if (!arguments.Has(option))
        {
            return null;
        }

        long value = arguments.GetInteger(option, 0);
        if (value is < 1 or > 65535)
        {
            throw new UsageException($"{option}: expected a port from 1 to 65535, got {value}");
        }

        return (ushort)value;
    }

    /// <summary>Parses <c>A.B.C.D/LEN</c>.</summary>
    public static bool TryParsePrefix(string text, out Ipv4Address address, out int prefixLength)
    {
        address = default;
        prefixLength = 0;
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        return slash > 0
            && Ipv4Address.TryParse(text.AsSpan(0, slash), out address)
            && int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefixLength)
            && prefixLength is >= 0 and <= 32;
    }

    private static bool IsUnusableHostAddress(Ipv4Address address)
    {
        uint a = address.ToUInt32();
        byte first = (byte)(a >> 24);

        // RFC 1122 3.2.1.3: not 0.0.0.0/8, not 127/8, not class D/E, not the limited broadcast.
        return first is 0 or 127 || first >= 224;
    }

    private static bool IsInterfaceName(string name)
    {
        if (name.Length is 0 or > 15 || name is "." or "..")
        {
            return false;
        }

        foreach (char c in name)
        {
            if (c is <= ' ' or > '~' or '/' or ':')
            {
                return false;
            }
        }

        return true;
    }
}
