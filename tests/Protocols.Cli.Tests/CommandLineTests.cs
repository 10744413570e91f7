using Protocols.Cli.CommandLine;

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
    public void Bad_arguments_exit_two_with_one_line(params string[] args)
    {
        (int code, string stdout, string stderr) = Captures.Run(args);
        Assert.Equal(CliApp.UsageError, code);
        Assert.Equal(string.Empty, stdout);
        string line = Assert.Single(Captures.Lines(stderr));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_value_names_the_flag_and_the_value()
    {
        (int code, _, string stderr) = Captures.Run("demo", "--bytes", "x");
        Assert.Equal(2, code);
        Assert.Equal("error: --bytes: expected a positive integer, got 'x'\n", stderr);

        (code, _, stderr) = Captures.Run("decode", "f.pcap", "--jsn");
        Assert.Equal(2, code);
        Assert.StartsWith("error: --jsn: unknown option for 'decode'", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Captures.Run("demo", "--loss=2");
        Assert.Equal(2, code);
        Assert.Equal("error: --loss: expected a fraction from 0 up to (not including) 1, got '2'\n", stderr);

        (code, _, stderr) = Captures.Run("demo", "--quiet=yes");
        Assert.Equal(2, code);
        Assert.Equal("error: --quiet: takes no value, got 'yes'\n", stderr);

        (code, _, stderr) = Captures.Run("demo", "--seed", "3", "--seed", "4");
        Assert.Equal(2, code);
        Assert.Equal("error: --seed: given more than once\n", stderr);

        (code, _, stderr) = Captures.Run("demo", "--bytes");
        Assert.Equal(2, code);
        Assert.Equal("error: --bytes: expected N after it\n", stderr);

        (code, _, stderr) = Captures.Run("decode");
        Assert.Equal(2, code);
        Assert.StartsWith("error: FILE: missing", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_lists_every_verb()
    {
        (int code, string stdout, string stderr) = Captures.Run("--help");
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, stderr);
        foreach (Verb verb in CliApp.CreateVerbs())
        {
            Assert.Contains($"  {verb.Name}", stdout, StringComparison.Ordinal);
            Assert.Contains(verb.Command.Description!, stdout, StringComparison.Ordinal);
            Assert.DoesNotContain(verb.Details, stdout, StringComparison.Ordinal);
        }

        Assert.Contains("serve", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("decode")]
    [InlineData("demo")]
    [InlineData("serve")]
    [InlineData("get")]
    [InlineData("bench")]
    [InlineData("nat")]
    [InlineData("forward")]
    public void Every_verb_has_generated_help_listing_its_options_and_details(string name)
    {
        (int code, string stdout, string stderr) = Captures.Run(name, "--help");
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, stderr);
        Verb verb = CliApp.CreateVerbs().Single(v => v.Name == name);
        Assert.Matches($@"Usage:\n  \S+ {name}", stdout); // the root's name is the executable's ('protocols')
        Assert.NotEmpty(verb.Command.Options);
        foreach (System.CommandLine.Option option in verb.Command.Options)
        {
            Assert.Contains(option.Name, stdout, StringComparison.Ordinal);
        }

        Assert.Contains("--verbose", stdout, StringComparison.Ordinal);
        Assert.Contains(verb.Details.Split('\n')[0], stdout, StringComparison.Ordinal);

        // Help wins over a bad option, as the library's help does.
        (code, string again, _) = Captures.Run(name, "--bogus", "--help");
        Assert.Equal(0, code);
        Assert.Equal(stdout, again);
    }

    [Theory]
    [InlineData("protocols d", "decode", "demo")]
    [InlineData("protocols demo --re", "--real-time")]
    [InlineData("protocols serve --ht", "--http", "--https")]
    [InlineData("protocols get http://10.0.0.2/ --ins", "--insecure")]
    public void Shell_completion_answers_the_suggest_directive(string line, params string[] expected)
    {
        // dotnet-suggest calls 'protocols [suggest:POSITION] "LINE"' for every shell it supports.
        (int code, string stdout, string stderr) = Captures.Run($"[suggest:{line.Length}]", line);
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, stderr);
        string[] suggestions = Captures.Lines(stdout);
        foreach (string word in expected)
        {
            Assert.Contains(word, suggestions);
        }

        // The library offers every word that contains what was typed, those that start with it first
        // ('protocols d' offers decode and demo, then forward).
        string typed = line.Split(' ')[^1];
        Assert.All(suggestions, s => Assert.Contains(typed, s, StringComparison.Ordinal));
        int firstNotStarting = Array.FindIndex(suggestions, s => !s.StartsWith(typed, StringComparison.Ordinal));
        Assert.True(firstNotStarting < 0 || suggestions.Skip(firstNotStarting).All(s => !s.StartsWith(typed, StringComparison.Ordinal)), string.Join(' ', suggestions));
    }

    [Fact]
    public void Double_dash_ends_options()
    {
        (int code, _, string stderr) = Captures.Run("decode", "--", "-not-an-option.pcap");
        Assert.Equal(1, code);
        Assert.Equal("error: -not-an-option.pcap: no such file\n", stderr);
    }

    [Fact]
    public void Verbose_is_accepted_by_every_verb()
    {
        (int code, _, string stderr) = Captures.Run("decode", "/nonexistent.pcap", "--verbose");
        Assert.Equal(1, code);
        Assert.Contains("no such file", stderr, StringComparison.Ordinal);
        Assert.Contains("FileNotFoundException", stderr, StringComparison.Ordinal);
    }
}
