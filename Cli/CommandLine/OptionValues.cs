using System.CommandLine.Parsing;
using System.Globalization;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Cli.CommandLine;

/// <summary>A host name mapped to an address of either family (<c>--resolve NAME:IP</c>).</summary>
/// <param name="Name">The host name.</param>
/// <param name="Address">Its address.</param>
internal readonly record struct HostMapping(string Name, IpAddress Address);

/// <summary>A device named on the command line as <c>tun:NAME</c> or <c>raw:IFACE</c>.</summary>
/// <param name="Kind">TUN or raw.</param>
/// <param name="Name">The interface name.</param>
internal readonly record struct DeviceSpec(DeviceKind Kind, string Name)
{
    /// <inheritdoc/>
    public override string ToString() => $"{(Kind == DeviceKind.Tun ? "tun" : "raw")}:{Name}";
}

/// <summary>A static NAT entry on the command line, <c>INSIDE=OUTSIDE</c>.</summary>
/// <param name="Inside">The inside host.</param>
/// <param name="Outside">Its outside address.</param>
internal readonly record struct AddressPair(Ipv4Address Inside, Ipv4Address Outside);

/// <summary>
/// The custom parsers of option values (System.CommandLine's <c>CustomParser</c>). Each parser
/// reports a bad value on the option's result as <c>FLAG: expected WHAT, got 'VALUE'</c>, which is
/// the one line the command prints (exit 2); new options reuse these or add one here.
/// </summary>
internal static class OptionValues
{
    /// <summary>A positive integer with an optional binary suffix: <c>123</c>, <c>64k</c>, <c>1M</c>, <c>2G</c>.</summary>
    public static long Size(ArgumentResult result) =>
        TryParseSize(Text(result), out long value) && value > 0 ? value : Fail<long>(result, "a positive integer");

    /// <summary><see cref="Size"/>, absent as null.</summary>
    public static long? OptionalSize(ArgumentResult result) => Size(result);

    /// <summary>One of <paramref name="names"/>, matched without regard to case (returned as listed).</summary>
    public static Func<ArgumentResult, string?> OneOf(IReadOnlyList<string> names) => result =>
        names.FirstOrDefault(n => string.Equals(n, Text(result), StringComparison.OrdinalIgnoreCase))
        ?? Fail<string?>(result, "one of " + string.Join(", ", names));

    /// <summary>An integer from <paramref name="minimum"/> to <paramref name="maximum"/>.</summary>
    public static Func<ArgumentResult, int> Integer(int minimum, int maximum, string? unit = null) => result =>
        int.TryParse(Text(result), NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= minimum && value <= maximum
            ? value
            : Fail<int>(result, $"{minimum} to {maximum}{(unit is null ? string.Empty : " " + unit)}");

    /// <summary>An integer from <paramref name="minimum"/> to <paramref name="maximum"/>, absent as null.</summary>
    public static Func<ArgumentResult, int?> OptionalInteger(int minimum, int maximum, string? unit = null)
    {
        Func<ArgumentResult, int> parse = Integer(minimum, maximum, unit);
        return result => parse(result);
    }

    /// <summary>A decimal number in [<paramref name="minimum"/>, <paramref name="maximum"/>], or (<paramref name="minimum"/>, ...] when <paramref name="minimumExcluded"/>.</summary>
    public static Func<ArgumentResult, double> Number(double minimum, double maximum, bool minimumExcluded = false, string? unit = null) => result =>
        double.TryParse(Text(result), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value)
        && (minimumExcluded ? value > minimum : value >= minimum) && value <= maximum
            ? value
            : Fail<double>(result, string.Create(CultureInfo.InvariantCulture,
                $"{(minimumExcluded ? "more than " : string.Empty)}{minimum}{(minimumExcluded ? " and at most " : " to ")}{maximum}{(unit is null ? string.Empty : " " + unit)}"));

    /// <summary>A loss fraction: from 0 up to, not including, 1 (at 1 nothing gets through).</summary>
    public static double LossFraction(ArgumentResult result) =>
        double.TryParse(Text(result), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) && value is >= 0 and < 1
            ? value
            : Fail<double>(result, "a fraction from 0 up to (not including) 1");

    /// <summary>A TCP or UDP port, 1 to 65535.</summary>
    public static ushort? Port(ArgumentResult result) =>
        ushort.TryParse(Text(result), NumberStyles.None, CultureInfo.InvariantCulture, out ushort value) && value > 0
            ? value
            : Fail<ushort?>(result, "a port from 1 to 65535");

    /// <summary>A non-empty path.</summary>
    public static string? Path(ArgumentResult result) =>
        Text(result) is { Length: > 0 } text ? text : Fail<string?>(result, "a file name");

    /// <summary>A Linux interface name: 1 to 15 printable characters without '/', ':' or spaces.</summary>
    public static string? InterfaceName(ArgumentResult result)
    {
        string name = Text(result);
        bool valid = name.Length is > 0 and <= 15 && name is not ("." or "..");
        foreach (char c in name)
        {
            valid &= c is > ' ' and <= '~' and not '/' and not ':';
        }

        return valid ? name : Fail<string?>(result, "an interface name (1 to 15 printable characters, no '/', ':' or spaces)");
    }

    /// <summary>An IPv4 address.</summary>
    public static Ipv4Address? Ipv4(ArgumentResult result) =>
        Ipv4Address.TryParse(Text(result), out Ipv4Address address) ? address : Fail<Ipv4Address?>(result, "an IPv4 address");

    /// <summary>An address of either family (<c>A.B.C.D</c> or an IPv6 address, brackets allowed).</summary>
    public static IpAddress? Address(ArgumentResult result) =>
        TryParseAddress(Text(result), out IpAddress address) ? address : Fail<IpAddress?>(result, "an IPv4 or IPv6 address");

    /// <summary>Every value of a repeated address option (<c>--gateway G</c>...), each of either family.</summary>
    public static IpAddress[] Addresses(ArgumentResult result)
    {
        var addresses = new IpAddress[result.Tokens.Count];
        for (int i = 0; i < addresses.Length; i++)
        {
            if (!TryParseAddress(result.Tokens[i].Value, out addresses[i]))
            {
                return Fail<IpAddress[]>(result, "an IPv4 or IPv6 address", result.Tokens[i].Value);
            }
        }

        return addresses;
    }

    /// <summary>A host's own address with its prefix length, <c>A.B.C.D/LEN</c> or <c>IPV6/LEN</c>; not an address no host may own.</summary>
    public static InterfaceAddress? HostPrefix(ArgumentResult result) =>
        TryHostPrefix(result, Text(result), out InterfaceAddress value) ? value : null;

    /// <summary>A host's own IPv4 address with its prefix length, <c>A.B.C.D/LEN</c>, for the verbs that run IPv4 only (<c>nat</c>, <c>forward</c>).</summary>
    public static InterfaceAddress? Ipv4HostPrefix(ArgumentResult result)
    {
        string text = Text(result);
        if (InterfaceAddress.TryParse(text, out InterfaceAddress parsed) && !parsed.Address.IsIpv4)
        {
            return Fail<InterfaceAddress?>(result, "A.B.C.D/LEN with LEN 0 to 32 (IPv4 only)", text);
        }

        return TryHostPrefix(result, text, out InterfaceAddress value) ? value : null;
    }

    /// <summary>Every value of a repeated <c>--address</c>, each a <see cref="HostPrefix"/> of either family.</summary>
    public static InterfaceAddress[] HostPrefixes(ArgumentResult result)
    {
        var addresses = new InterfaceAddress[result.Tokens.Count];
        for (int i = 0; i < addresses.Length; i++)
        {
            if (!TryHostPrefix(result, result.Tokens[i].Value, out addresses[i]))
            {
                return [];
            }
        }

        return addresses;
    }

    private static bool TryHostPrefix(ArgumentResult result, string text, out InterfaceAddress value)
    {
        if (!InterfaceAddress.TryParse(text, out value))
        {
            Fail<InterfaceAddress?>(result, "A.B.C.D/LEN (LEN 0 to 32) or IPV6/LEN (LEN 0 to 128)", text);
            return false;
        }

        bool own = value.Address.TryGetIpv4(out Ipv4Address v4)
            ? (byte)(v4.ToUInt32() >> 24) is not (0 or 127) and < 224 // RFC 1122 3.2.1.3: not 0/8, 127/8, class D/E, broadcast
            : value.Address.ToIpv6() is var v6 && v6 != Ipv6Address.Any && v6 != Ipv6Address.Loopback && !v6.IsMulticast; // RFC 4291 2.5.2, 2.5.3, 2.7
        if (!own)
        {
            result.AddError($"{Flag(result)}: {value.Address} cannot be a host's own address");
            return false;
        }

        return true;
    }

    private static bool TryParseAddress(string text, out IpAddress address) =>
        IpAddress.TryParse(text.Length > 2 && text[0] == '[' && text[^1] == ']' ? text[1..^1] : text, out address);

    /// <summary>An endpoint, <c>A.B.C.D:PORT</c> or <c>[IPv6]:PORT</c>.</summary>
    public static IpEndpoint? Endpoint(ArgumentResult result) =>
        IpEndpoint.TryParse(Text(result), out IpEndpoint endpoint) && endpoint.Port != 0
            ? endpoint
            : Fail<IpEndpoint?>(result, "A.B.C.D:PORT or [IPv6]:PORT");

    /// <summary>A host name and the address to use for it, <c>NAME:A.B.C.D</c> or <c>NAME:IPV6</c> (brackets allowed; a name has no colon).</summary>
    public static HostMapping? NameAndAddress(ArgumentResult result) =>
        TryNameAndAddress(Text(result), out HostMapping mapping) ? mapping : Fail<HostMapping?>(result, "NAME:A.B.C.D or NAME:IPV6");

    /// <summary>Every value of a repeated <c>--resolve</c>.</summary>
    public static HostMapping[] NamesAndAddresses(ArgumentResult result)
    {
        var mappings = new HostMapping[result.Tokens.Count];
        for (int i = 0; i < mappings.Length; i++)
        {
            if (!TryNameAndAddress(result.Tokens[i].Value, out mappings[i]))
            {
                return Fail<HostMapping[]>(result, "NAME:A.B.C.D or NAME:IPV6", result.Tokens[i].Value);
            }
        }

        return mappings;
    }

    private static bool TryNameAndAddress(string text, out HostMapping mapping)
    {
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        mapping = default;
        if (colon <= 0 || !TryParseAddress(text[(colon + 1)..], out IpAddress address))
        {
            return false;
        }

        mapping = new HostMapping(text[..colon], address);
        return true;
    }

    /// <summary>A device, <c>tun:NAME</c> or <c>raw:IFACE</c>.</summary>
    public static DeviceSpec? Device(ArgumentResult result)
    {
        string text = Text(result);
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        string kind = colon > 0 ? text[..colon] : string.Empty;
        string name = colon > 0 ? text[(colon + 1)..] : string.Empty;
        bool validName = name.Length is > 0 and <= 15 && name is not ("." or "..") && name.All(c => c is > ' ' and <= '~' and not '/' and not ':');
        return kind is "tun" or "raw" && validName
            ? new DeviceSpec(kind == "tun" ? DeviceKind.Tun : DeviceKind.Raw, name)
            : Fail<DeviceSpec?>(result, "tun:NAME or raw:IFACE");
    }

    /// <summary>Reads <c>INSIDE=OUTSIDE</c> (two IPv4 addresses).</summary>
    public static bool TryParseAddressPair(string text, out AddressPair pair)
    {
        int eq = text.IndexOf('=', StringComparison.Ordinal);
        bool ok = eq > 0 & Ipv4Address.TryParse(text.AsSpan(0, Math.Max(eq, 0)), out Ipv4Address inside) & Ipv4Address.TryParse(text.AsSpan(eq + 1), out Ipv4Address outside);
        pair = new AddressPair(inside, outside);
        return ok && eq > 0;
    }

    /// <summary>A range of IPv4 addresses, <c>FIRST-LAST</c> (first &lt;= last).</summary>
    public static AddressPair? AddressRange(ArgumentResult result)
    {
        string text = Text(result);
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        return dash > 0 && Ipv4Address.TryParse(text.AsSpan(0, dash), out Ipv4Address first) && Ipv4Address.TryParse(text.AsSpan(dash + 1), out Ipv4Address last)
            && first.ToUInt32() <= last.ToUInt32() && last.ToUInt32() - first.ToUInt32() < 65536
            ? new AddressPair(first, last)
            : Fail<AddressPair?>(result, "FIRST-LAST (two IPv4 addresses, first <= last, at most 65536)");
    }

    /// <summary>A host and port, <c>A.B.C.D:PORT</c>, <c>[IPv6]:PORT</c> or <c>NAME:PORT</c> (resolved when the verb starts).</summary>
    public static string? HostAndPort(ArgumentResult result)
    {
        string text = Text(result);
        int colon = text.LastIndexOf(':');
        return colon > 0 && ushort.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out ushort port) && port > 0
            ? text
            : Fail<string?>(result, "HOST:PORT");
    }

    /// <summary>The flag (<c>--bytes</c>) or positional name (<c>URL</c>) a value belongs to.</summary>
    public static string Flag(SymbolResult result) => result switch
    {
        OptionResult option => option.Option.Name,
        ArgumentResult { Parent: OptionResult option } => option.Option.Name,
        ArgumentResult argument => argument.Argument.Name,
        CommandResult command => command.Command.Name,
        _ => "argument",
    };

    /// <summary>Reports <c>FLAG: expected WHAT, got 'VALUE'</c> on <paramref name="result"/> (VALUE: <paramref name="value"/>, or the option's last one).</summary>
    public static T Fail<T>(ArgumentResult result, string expected, string? value = null)
    {
        result.AddError($"{Flag(result)}: expected {expected}, got '{value ?? Text(result)}'");
        return default!;
    }

    private static string Text(ArgumentResult result) => result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;

    private static bool TryParseSize(string text, out long value)
    {
        value = 0;
        long multiplier = 1;
        ReadOnlySpan<char> digits = text;
        if (digits.Length > 1)
        {
            multiplier = char.ToUpperInvariant(digits[^1]) switch
            {
                'K' => 1L << 10,
                'M' => 1L << 20,
                'G' => 1L << 30,
                _ => 1,
            };
            if (multiplier != 1)
            {
                digits = digits[..^1];
            }
        }

        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n > long.MaxValue / multiplier)
        {
            return false;
        }

        value = n * multiplier;
        return true;
    }
}
