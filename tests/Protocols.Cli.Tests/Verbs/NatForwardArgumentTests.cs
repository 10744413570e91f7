using Protocols.Cli.CommandLine;

namespace Protocols.Cli.Tests.Verbs;

/// <summary>
/// The contract's rules for nat and forward before any device opens: a bad or missing flag exits 2
/// with one line naming it, and nothing on stdout (no 'ready').
/// </summary>
public sealed class NatForwardArgumentTests
{
    private const string In = "tun:pin0";
    private const string Out = "raw:pveth0";

    [Theory]
    [InlineData("--inside", "nat", "--inside-address", "10.0.0.1/24", "--outside", Out, "--outside-address", "203.0.113.1/24")]
    [InlineData("--inside", "nat", "--inside", "eth:x", "--inside-address", "10.0.0.1/24", "--outside", Out, "--outside-address", "203.0.113.1/24")]
    [InlineData("--inside-address", "nat", "--inside", In, "--outside", Out, "--outside-address", "203.0.113.1/24")]
    [InlineData("--inside-address", "nat", "--inside", In, "--inside-address", "10.0.0.1", "--outside", Out, "--outside-address", "203.0.113.1/24")]
    [InlineData("--outside", "nat", "--inside", In, "--inside-address", "10.0.0.1/24", "--outside-address", "203.0.113.1/24")]
    [InlineData("--outside", "nat", "--inside", In, "--inside-address", "10.0.0.1/24", "--outside", In, "--outside-address", "203.0.113.1/24")]
    [InlineData("--outside-address", "nat", "--inside", In, "--inside-address", "10.0.0.1/24", "--outside", Out)]
    [InlineData("--outside-address", "nat", "--inside", In, "--inside-address", "10.0.0.1/24", "--outside", Out, "--outside-address", "300.0.113.1/24")]
    [InlineData("--gateway", "nat", "--inside", In, "--inside-address", "10.0.0.1/24", "--outside", Out, "--outside-address", "203.0.113.1/24", "--gateway", "198.51.100.1")]
    [InlineData("--gateway", "nat", "--inside", In, "--inside-address", "10.0.0.1/24", "--outside", Out, "--outside-address", "203.0.113.1/24", "--gateway", "203.0.113.1")]
    [InlineData("--static", "nat", "--inside", In, "--inside-address", "10.0.0.1/24", "--outside", Out, "--outside-address", "203.0.113.1/24", "--static", "10.0.0.5")]
    [InlineData("--static", "nat", "--inside", In, "--inside-address", "10.0.0.1/24", "--outside", Out, "--outside-address", "203.0.113.1/24", "--static", "10.0.0.5=x")]
    [InlineData("--pool", "nat", "--inside", In, "--inside-address", "10.0.0.1/24", "--outside", Out, "--outside-address", "203.0.113.1/24", "--pool", "203.0.113.10")]
    [InlineData("--filtering", "nat", "--inside", In, "--inside-address", "10.0.0.1/24", "--outside", Out, "--outside-address", "203.0.113.1/24", "--filtering", "symmetric")]
    [InlineData("--table-every", "nat", "--inside", In, "--inside-address", "10.0.0.1/24", "--outside", Out, "--outside-address", "203.0.113.1/24", "--table-every", "0")]
    [InlineData("--max-mappings", "nat", "--inside", In, "--inside-address", "10.0.0.1/24", "--outside", Out, "--outside-address", "203.0.113.1/24", "--max-mappings", "0")]
    [InlineData("--tun", "forward", "--address", "10.66.0.2/24")]
    [InlineData("--address", "forward", "--tun", "ptun0")]
    [InlineData("--address", "forward", "--tun", "ptun0", "--address", "10.66.0.2/33")]
    [InlineData("--address", "forward", "--tun", "ptun0", "--address", "2001:db8::2/64")]
    [InlineData("--inside-address", "nat", "--inside", In, "--inside-address", "2001:db8::1/64", "--outside", Out, "--outside-address", "203.0.113.1/24")]
    [InlineData("--outside-address", "nat", "--inside", In, "--inside-address", "10.0.0.1/24", "--outside", Out, "--outside-address", "2001:db8::1/64")]
    [InlineData("--fwmark", "forward", "--tun", "ptun0", "--address", "10.66.0.2/24", "--outbound-interface", "eth0", "--fwmark", "7")]
    [InlineData("--fwmark", "forward", "--tun", "ptun0", "--address", "10.66.0.2/24", "--fwmark", "0")]
    [InlineData("--fwmark", "forward", "--tun", "ptun0", "--address", "10.66.0.2/24", "--fwmark", "mark")]
    [InlineData("--socks5", "forward", "--tun", "ptun0", "--address", "10.66.0.2/24", "--socks5", "127.0.0.1")]
    [InlineData("--socks5", "forward", "--tun", "ptun0", "--address", "10.66.0.2/24", "--socks5", "127.0.0.1:70000")]
    [InlineData("--udp-timeout", "forward", "--tun", "ptun0", "--address", "10.66.0.2/24", "--udp-timeout", "0")]
    [InlineData("--max-connections", "forward", "--tun", "ptun0", "--address", "10.66.0.2/24", "--max-connections", "0")]
    [InlineData("--bogus", "forward", "--tun", "ptun0", "--address", "10.66.0.2/24", "--bogus")]
    public void Bad_arguments_exit_two_with_one_line_naming_the_flag(string flag, params string[] args)
    {
        (int code, string stdout, string stderr) = Captures.Run(args);
        Assert.Equal(CliApp.UsageError, code);
        Assert.Equal(string.Empty, stdout);
        string line = Assert.Single(Captures.Lines(stderr));
        Assert.StartsWith($"error: {flag}", line, StringComparison.Ordinal);
    }
}
