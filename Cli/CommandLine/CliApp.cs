using Protocols.Cli.Bench;
using Protocols.Cli.Get;
using Protocols.Cli.Serve;
using Protocols.Cli.Verbs;

namespace Protocols.Cli.CommandLine;

/// <summary>Where a verb writes: standard output for results, standard error for diagnostics.</summary>
/// <param name="Out">Results (trace lines, JSON).</param>
/// <param name="Error">Errors and notes.</param>
internal sealed record VerbConsole(TextWriter Out, TextWriter Error)
{
    /// <summary>Opens standard output for binary data (a <c>get</c> body); tests replace it.</summary>
    public Func<Stream> OpenBinaryOut { get; init; } = Console.OpenStandardOutput;
}

/// <summary>A verb of the <c>protocols</c> command.</summary>
internal abstract class Verb
{
    /// <summary>The verb's name on the command line.</summary>
    public abstract string Name { get; }

    /// <summary>One line for the verb list of <c>protocols --help</c>.</summary>
    public abstract string Summary { get; }

    /// <summary>The usage line, e.g. <c>protocols decode FILE [--json]</c>.</summary>
    public abstract string Usage { get; }

    /// <summary>A paragraph shown by <c>protocols VERB --help</c> under the usage line.</summary>
    public abstract string Description { get; }

    /// <summary>The options the verb accepts (besides <c>--help</c> and <c>--verbose</c>).</summary>
    public abstract IReadOnlyList<OptionSpec> Options { get; }

    /// <summary>Minimum number of positional arguments.</summary>
    public virtual int MinPositionals => 0;

    /// <summary>Maximum number of positional arguments.</summary>
    public virtual int MaxPositionals => 0;

    /// <summary>The name of the positional argument in error messages.</summary>
    public virtual string PositionalName => "argument";

    /// <summary>Runs the verb. Returns the exit code; throws <see cref="UsageException"/> for bad values found late.</summary>
    public abstract int Run(ParsedArguments arguments, VerbConsole console);

    /// <summary>Writes the verb's help text.</summary>
    public void WriteHelp(TextWriter writer)
    {
        writer.WriteLine($"usage: {Usage}");
        writer.WriteLine();
        writer.WriteLine(Description);
        writer.WriteLine();
        writer.WriteLine("options:");
        var rows = new List<(string Left, string Help)>();
        foreach (OptionSpec option in Options)
        {
            rows.Add((option.Kind == OptionKind.Flag ? option.Name : $"{option.Name} {option.ValueName}", option.Help));
        }

        rows.Add((ArgumentParser.Verbose, "show stack traces of failures"));
        rows.Add(("--help", "show this help"));
        int width = rows.Max(r => r.Left.Length) + 2;
        foreach ((string left, string help) in rows)
        {
            writer.WriteLine($"  {left.PadRight(width)}{help}");
        }
    }
}

/// <summary>
/// The entry point shared by <c>Program</c> and the tests: dispatches to a verb, maps failures
/// to exit codes (2 bad arguments, 1 other failures) and one-line messages on standard error.
/// </summary>
internal static class CliApp
{
    /// <summary>Exit code of a successful run.</summary>
    public const int Success = 0;

    /// <summary>Exit code of a failure other than bad arguments.</summary>
    public const int Failure = 1;

    /// <summary>Exit code of bad arguments.</summary>
    public const int UsageError = 2;

    /// <summary>All verbs, in help order.</summary>
    public static IReadOnlyList<Verb> Verbs { get; } = [new DecodeVerb(), new DemoVerb(), new ServeVerb(), new GetVerb(), new BenchVerb()];

    /// <summary>Runs the command line <paramref name="args"/> writing to <paramref name="stdout"/> and <paramref name="stderr"/>.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var console = new VerbConsole(stdout, stderr);
        bool verbose = args.Contains(ArgumentParser.Verbose);
        if (args.Count == 0)
        {
            stderr.WriteLine($"error: no verb given (one of: {string.Join(", ", Verbs.Select(v => v.Name))}; see 'protocols --help')");
            return UsageError;
        }

        string first = args[0];
        if (first is "--help" or "-h" or "help")
        {
            WriteHelp(stdout);
            return Success;
        }

        if (first == "--version")
        {
            stdout.WriteLine($"protocols {typeof(CliApp).Assembly.GetName().Version}");
            return Success;
        }

        Verb? verb = Verbs.FirstOrDefault(v => v.Name == first);
        if (verb is null)
        {
            stderr.WriteLine(first.StartsWith('-')
                ? $"error: {first}: unknown option (expected a verb first; see 'protocols --help')"
                : $"error: {first}: unknown verb (one of: {string.Join(", ", Verbs.Select(v => v.Name))})");
            return UsageError;
        }

        var rest = args.Skip(1).ToList();
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            verb.WriteHelp(stdout);
            return Success;
        }

        try
        {
            ParsedArguments parsed = ArgumentParser.Parse(verb.Name, rest, verb.Options, verb.MinPositionals, verb.MaxPositionals, verb.PositionalName);
            return verb.Run(parsed, console);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return UsageError;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            stderr.WriteLine($"error: {OneLine(e.Message)}");
            if (verbose)
            {
                stderr.WriteLine(e.ToString());
            }

            return Failure;
        }
    }

    /// <summary>Writes the overall help.</summary>
    public static void WriteHelp(TextWriter writer)
    {
        writer.WriteLine("usage: protocols VERB [options]   (protocols VERB --help for a verb's options)");
        writer.WriteLine();
        writer.WriteLine("A user-space TCP/IP stack for .NET, and tools around it.");
        writer.WriteLine();
        writer.WriteLine("verbs:");
        int width = Verbs.Max(v => v.Name.Length) + 2;
        foreach (Verb verb in Verbs)
        {
            writer.WriteLine($"  {verb.Name.PadRight(width)}{verb.Summary}");
        }
    }

    private static string OneLine(string message)
    {
        int newline = message.IndexOfAny(['\r', '\n']);
        return newline < 0 ? message : message[..newline];
    }
}
