using System.Net;
using System.Text;
using Protocols.Wire;

namespace Protocols.Fuzz.Targets;

/// <summary>
/// Address text (the CLI's and the APIs' input): IPv4 dotted quads (RFC 791), IPv6 (RFC 4291 2.2),
/// either through <see cref="IpAddress"/>, and MAC addresses. What parses formats back to text that
/// parses to the same address, and agrees with <see cref="IPAddress"/> on the bytes and on the
/// canonical text (RFC 5952 4) where neither writes a dotted tail.
/// </summary>
internal static class AddressTargets
{
    public static void Addresses(ReadOnlySpan<byte> input)
    {
        string text = Encoding.Latin1.GetString(input[..Math.Min(input.Length, 64)]);
        Span<char> formatted = stackalloc char[64];
        if (IpAddress.TryParse(text, out IpAddress address))
        {
            string canonical = address.ToString();
            Check.True(address.TryFormat(formatted, out int written) && formatted[..written].SequenceEqual(canonical), $"address: TryFormat and ToString differ for '{canonical}'");
            Check.True(IpAddress.TryParse(canonical, out IpAddress again) && again == address, $"address: '{text}' formats as '{canonical}', which does not parse back");
            Check.True(IPAddress.TryParse(text, out IPAddress? system), $"address: '{text}' parses here but not with System.Net.IPAddress");
            Check.Equal(IpAddress.FromIPAddress(system!), address, $"address: '{text}' parsed with System.Net.IPAddress");
            // .NET also writes RFC 5952 text, but chooses differently which addresses with an embedded
            // IPv4 address get a dotted tail (RFC 5952 5 names the prefixes; .NET looks at the value):
            // compare where neither form has one.
            string systemText = system!.ToString();
            if (!canonical.Contains('.', StringComparison.Ordinal) && !systemText.Contains('.', StringComparison.Ordinal))
            {
                Check.Equal(systemText, canonical, $"address: canonical text of '{text}'");
            }
            Check.Equal(address.IsIpv6, Ipv6Address.TryParse(text, out _), $"address: '{text}' as IPv6");
            Check.Equal(address.IsIpv4, Ipv4Address.TryParse(text, out _), $"address: '{text}' as IPv4");
        }
        else
        {
            Check.True(!Ipv4Address.TryParse(text, out _) && !Ipv6Address.TryParse(text, out _), $"address: '{text}' parses as one family but not as an address");
        }

        if (MacAddress.TryParse(text, out MacAddress mac))
        {
            string canonical = mac.ToString();
            Check.True(MacAddress.TryParse(canonical, out MacAddress again) && again == mac, $"MAC: '{text}' formats as '{canonical}', which does not parse back");
        }
    }
}
