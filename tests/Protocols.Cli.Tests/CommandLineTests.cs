using Protocols.Cli.CommandLine;
using Protocols.Wire.Capture;

namespace Protocols.Cli.Tests;

public sealed class CommandLineTests
{
    [Theory]
    [InlineData("frobnicate")]
    [InlineData("--bogus")]
    [InlineData("decode", "--bogus", "x.pcap")]
    [InlineData("decode")]
    [InlineData("decode", "a.pcap", "b.pcap")]
    [InlineData("decode", "a.pcap", "--json=yes")]
    [InlineData("demo", "--bytes", "x")]
    [InlineData("demo", "--bytes", "0")]
    [InlineData("demo", "--bytes", "-5")]
    [InlineData("demo", "--bytes")]
    [InlineData("demo", "--loss", "1.5")]
    [InlineData("demo", "--loss", "abc")]
    [InlineData("demo", "--seed", "-1")]
    [InlineData("demo", "--quiet", "--quiet")]
    [InlineData("demo", "extra")]
    [InlineData("serve", "--tun", "tun0")]
    [InlineData]
    public void BadArgumentsExitTwoWithOneLine(params string[] args)
    {
        (int code, string stdout, string stderr) = Captures.Run(args);
        Assert.Equal(CliApp.UsageError, code);
        Assert.Equal(string.Empty, stdout);
        string line = Assert.Single(Captures.Lines(stderr));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void BadValueNamesTheFlagAndTheValue()
    {
        (int code, _, string stderr) = Captures.Run("demo", "--bytes", "x");
        Assert.Equal(2, code);
        Assert.Equal("error: --bytes: expected a positive integer, got 'x'\n", stderr);

        (code, _, stderr) = Captures.Run("decode", "f.pcap", "--jsn");
        Assert.Equal(2, code);
        Assert.StartsWith("error: --jsn: unknown option for 'decode'", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Captures.Run("demo", "--loss=2");
        Assert.Equal(2, code);
        Assert.Equal("error: --loss: expected a number from 0 to 1, got '2'\n", stderr);
    }

    [Fact]
    public void HelpListsEveryVerb()
    {
        (int code, string stdout, string stderr) = Captures.Run("--help");
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, stderr);
        foreach (Verb verb in CliApp.Verbs)
        {
            Assert.Contains(verb.Name, stdout, StringComparison.Ordinal);
        }

        Assert.Contains("serve", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("decode")]
    [InlineData("demo")]
    public void EveryVerbHasHelp(string verb)
    {
        (int code, string stdout, string stderr) = Captures.Run(verb, "--help");
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, stderr);
        Assert.StartsWith($"usage: protocols {verb}", stdout, StringComparison.Ordinal);
        foreach (OptionSpec option in CliApp.Verbs.Single(v => v.Name == verb).Options)
        {
            Assert.Contains(option.Name, stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void VerboseIsAcceptedByEveryVerb()
    {
        (int code, _, string stderr) = Captures.Run("decode", "/nonexistent.pcap", "--verbose");
        Assert.Equal(1, code);
        Assert.Contains("no such file", stderr, StringComparison.Ordinal);
        Assert.Contains("FileNotFoundException", stderr, StringComparison.Ordinal);
    }
}
