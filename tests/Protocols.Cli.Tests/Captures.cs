using Protocols.Cli.CommandLine;

namespace Protocols.Cli.Tests;

/// <summary>Finds the committed captures (copied next to the test assembly) and runs the command in-process.</summary>
internal static class Captures
{
    /// <summary>The directory holding the captures and their tshark expectations.</summary>
    public static string Directory { get; } = Path.Combine(AppContext.BaseDirectory, "captures");

    /// <summary>File names of every committed capture.</summary>
    public static IEnumerable<string> Names() =>
        System.IO.Directory.EnumerateFiles(Directory)
            .Where(f => f.EndsWith(".pcap", StringComparison.Ordinal) || f.EndsWith(".pcapng", StringComparison.Ordinal))
            .Select(Path.GetFileName)
            .OfType<string>()
            .Order(StringComparer.Ordinal);

    /// <summary>For xunit: one row per capture.</summary>
    public static TheoryData<string> All()
    {
        var data = new TheoryData<string>();
        foreach (string name in Names())
        {
            data.Add(name);
        }

        return data;
    }

    /// <summary>The full path of a capture.</summary>
    public static string PathOf(string name) => Path.Combine(Directory, name);

    /// <summary>The committed tshark TSV of a capture.</summary>
    public static string TsvOf(string name) => Path.Combine(Directory, Path.GetFileNameWithoutExtension(name) + ".tshark.tsv");

    /// <summary>Runs <c>protocols ARGS</c> in-process.</summary>
    public static (int ExitCode, string Out, string Error) Run(params string[] args)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        int code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Splits output into non-empty lines.</summary>
    public static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
