using System.CommandLine;
using Protocols.Cli.CommandLine;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Cli.Tests;

/// <summary>The custom value parsers, through a real System.CommandLine parse.</summary>
public sealed class OptionValuesTests
{
    private static (T? Value, string? Error) Parse<T>(Option<T> option, string value)
    {
        var command = new RootCommand { option };
        ParseResult parse = command.Parse([option.Name, value]);
        return parse.Errors.Count == 0 ? (parse.GetValue(option), null) : (default, parse.Errors[0].Message);
    }

    [Theory]
    [InlineData("1", 1L)]
    [InlineData("64k", 65536L)]
    [InlineData("2M", 2097152L)]
    [InlineData("1g", 1073741824L)]
    public void Sizes_take_binary_suffixes(string text, long expected) =>
        Assert.Equal((expected, (string?)null), Parse(CommonOptions.Value("--bytes", "N", "", OptionValues.Size), text));

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("1T")]
    [InlineData("99999999999G")]
    [InlineData("k")]
    public void Bad_sizes_name_the_flag_and_the_value(string text) =>
        Assert.Equal($"--bytes: expected a positive integer, got '{text}'", Parse(CommonOptions.Value("--bytes", "N", "", OptionValues.Size), text).Error);

    [Theory]
    [InlineData("0", 0.0)]
    [InlineData("0.25", 0.25)]
    [InlineData("0.999", 0.999)]
    public void Loss_is_a_fraction_below_one(string text, double expected) =>
        Assert.Equal((expected, (string?)null), Parse(CommonOptions.Loss(""), text));

    [Theory]
    [InlineData("1")]
    [InlineData("1.5")]
    [InlineData("-0.1")]
    [InlineData("NaN")]
    [InlineData("1e-3")]
    public void Loss_of_one_or_more_or_not_a_number_is_refused(string text) =>
        Assert.StartsWith("--loss: expected a fraction from 0 up to (not including) 1", Parse(CommonOptions.Loss(""), text).Error, StringComparison.Ordinal);

    [Fact]
    public void Host_prefix_parses_address_and_length_and_refuses_what_no_host_owns()
    {
        const string Expected = "A.B.C.D/LEN (LEN 0 to 32) or IPV6/LEN (LEN 0 to 128)";
        Option<InterfaceAddress?> option = CommonOptions.Value("--address", "A/LEN", "", OptionValues.HostPrefix);
        Assert.Equal(new InterfaceAddress(Ipv4Address.Parse("10.66.0.2"), 24), Parse(option, "10.66.0.2/24").Value);
        Assert.Equal(new InterfaceAddress(Ipv6Address.Parse("2001:db8::2"), 64), Parse(option, "2001:DB8::2/64").Value);
        Assert.Equal(new InterfaceAddress(Ipv6Address.Parse("fe80::2"), 64), Parse(option, "fe80::2/64").Value);
        Assert.Equal($"--address: expected {Expected}, got '10.66.0.2'", Parse(option, "10.66.0.2").Error);
        Assert.Equal($"--address: expected {Expected}, got '10.66.0.2/33'", Parse(option, "10.66.0.2/33").Error);
        Assert.Equal($"--address: expected {Expected}, got '10.66.0/24'", Parse(option, "10.66.0/24").Error);
        Assert.Equal($"--address: expected {Expected}, got '2001:db8::2/129'", Parse(option, "2001:db8::2/129").Error);
        Assert.Equal("--address: 127.0.0.1 cannot be a host's own address", Parse(option, "127.0.0.1/8").Error);
        Assert.Equal("--address: 224.0.0.1 cannot be a host's own address", Parse(option, "224.0.0.1/4").Error);
        Assert.Equal("--address: ::1 cannot be a host's own address", Parse(option, "::1/128").Error);
        Assert.Equal("--address: ff02::1 cannot be a host's own address", Parse(option, "ff02::1/64").Error);
        Assert.Equal("--address: :: cannot be a host's own address", Parse(option, "::/0").Error);
        Assert.True(DeviceOptions.SameSubnet(new InterfaceAddress(Ipv4Address.Parse("10.66.0.2"), 24), Ipv4Address.Parse("10.66.0.254")));
        Assert.False(DeviceOptions.SameSubnet(new InterfaceAddress(Ipv4Address.Parse("10.66.0.2"), 24), Ipv4Address.Parse("10.66.1.1")));
        Assert.True(DeviceOptions.SameSubnet(new InterfaceAddress(Ipv6Address.Parse("2001:db8::2"), 64), Ipv6Address.Parse("2001:db8::ffff:1")));
        Assert.False(DeviceOptions.SameSubnet(new InterfaceAddress(Ipv6Address.Parse("2001:db8::2"), 64), Ipv6Address.Parse("2001:db8:1::1")));
        Assert.False(DeviceOptions.SameSubnet(new InterfaceAddress(Ipv6Address.Parse("2001:db8::2"), 64), Ipv4Address.Parse("10.66.0.1")));
    }

    [Fact]
    public void Repeated_addresses_and_gateways_take_either_family()
    {
        Option<InterfaceAddress[]> addresses = CommonOptions.Repeated("--address", "ADDR/LEN", "", OptionValues.HostPrefixes);
        var command = new RootCommand { addresses };
        ParseResult parse = command.Parse(["--address", "10.0.0.2/24", "--address", "2001:db8::2/64"]);
        Assert.Empty(parse.Errors);
        Assert.Equal([InterfaceAddress.Parse("10.0.0.2/24"), InterfaceAddress.Parse("2001:db8::2/64")], parse.GetValue(addresses)!);
        Assert.Empty(new RootCommand { addresses }.Parse([]).GetValue(addresses)!);
        ParseResult bad = new RootCommand { addresses }.Parse(["--address", "10.0.0.2/24", "--address", "2001:db8::2"]);
        Assert.Equal("--address: expected A.B.C.D/LEN (LEN 0 to 32) or IPV6/LEN (LEN 0 to 128), got '2001:db8::2'", bad.Errors[0].Message);

        Option<IpAddress[]> gateways = CommonOptions.Repeated("--gateway", "G", "", OptionValues.Addresses);
        ParseResult gw = new RootCommand { gateways }.Parse(["--gateway", "10.0.0.1", "--gateway", "[fe80::1]"]);
        Assert.Equal([IpAddress.Parse("10.0.0.1"), IpAddress.Parse("fe80::1")], gw.GetValue(gateways)!);
        Assert.Equal("--gateway: expected an IPv4 or IPv6 address, got 'router'", new RootCommand { gateways }.Parse(["--gateway", "router"]).Errors[0].Message);
    }

    [Fact]
    public void Endpoint_and_name_mappings()
    {
        Option<IpEndpoint?> endpoint = CommonOptions.Value("--socks5", "A:PORT", "", OptionValues.Endpoint);
        Assert.Equal(new IpEndpoint(Ipv4Address.Parse("127.0.0.1"), 1080), Parse(endpoint, "127.0.0.1:1080").Value);
        Assert.Equal("--socks5: expected A.B.C.D:PORT or [IPv6]:PORT, got '127.0.0.1:0'", Parse(endpoint, "127.0.0.1:0").Error);
        Assert.Equal("--socks5: expected A.B.C.D:PORT or [IPv6]:PORT, got '127.0.0.1'", Parse(endpoint, "127.0.0.1").Error);
        Assert.Equal(new IpEndpoint(Ipv6Address.Parse("2001:db8::1"), 1080), Parse(endpoint, "[2001:db8::1]:1080").Value);

        Option<HostMapping?> resolve = CommonOptions.Value("--resolve", "NAME:IP", "", OptionValues.NameAndAddress);
        Assert.Equal(new HostMapping("example.test", Ipv4Address.Parse("10.0.0.2")), Parse(resolve, "example.test:10.0.0.2").Value);
        Assert.Equal(new HostMapping("v6.test", Ipv6Address.Parse("2001:db8::2")), Parse(resolve, "v6.test:2001:db8::2").Value);
        Assert.Equal(new HostMapping("v6.test", Ipv6Address.Parse("2001:db8::2")), Parse(resolve, "v6.test:[2001:db8::2]").Value);
        Assert.Equal("--resolve: expected NAME:A.B.C.D or NAME:IPV6, got ':10.0.0.2'", Parse(resolve, ":10.0.0.2").Error);
    }

    [Theory]
    [InlineData("tun0", true)]
    [InlineData("a-very-long-nam", true)]
    [InlineData("a-very-long-name", false)]
    [InlineData("a/b", false)]
    [InlineData("a:b", false)]
    [InlineData("..", false)]
    public void Interface_names_follow_linux_rules(string name, bool valid) =>
        Assert.Equal(valid, Parse(CommonOptions.Value("--tun", "NAME", "", OptionValues.InterfaceName), name).Error is null);

    [Theory]
    [InlineData("1", true)]
    [InlineData("65535", true)]
    [InlineData("0", false)]
    [InlineData("65536", false)]
    [InlineData("+80", false)]
    public void Ports_are_one_to_65535(string text, bool valid) =>
        Assert.Equal(valid, Parse(CommonOptions.Port("--http", ""), text).Error is null);
}
