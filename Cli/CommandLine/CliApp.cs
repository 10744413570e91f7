using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Protocols.Cli.Bench;
using Protocols.Cli.Forward;
using Protocols.Cli.Get;
using Protocols.Cli.Nat;
using Protocols.Cli.Serve;
using Protocols.Cli.Verbs;

namespace Protocols.Cli.CommandLine;

/// <summary>
/// The entry point shared by <c>Program</c> and the tests: builds the System.CommandLine root
/// command from the verbs, and maps the outcome to CLI.md's contract: exit 0 on success, 2 with
/// one line naming the flag for a bad command line, 1 with one line for any other failure (the
/// stack trace too only with <c>--verbose</c>). Help, <c>--version</c> and the <c>[suggest]</c>
/// directive that shell completion (dotnet-suggest) calls are the library's own.
/// </summary>
internal static class CliApp
{
    /// <summary>Exit code of a successful run.</summary>
    public const int Success = 0;

    /// <summary>Exit code of a failure other than bad arguments.</summary>
    public const int Failure = 1;

    /// <summary>Exit code of bad arguments.</summary>
    public const int UsageError = 2;

    /// <summary>Creates every verb, in help order (each call makes new instances: options hold no state, but commands have parents).</summary>
    public static IReadOnlyList<Verb> CreateVerbs() => [new DecodeVerb(), new DemoVerb(), new ServeVerb(), new GetVerb(), new BenchVerb(), new NatVerb(), new ForwardVerb()];

    /// <summary>The root command with every verb of <paramref name="verbs"/> and the common options.</summary>
    public static RootCommand CreateRoot(IReadOnlyList<Verb> verbs)
    {
        var root = new RootCommand("A user-space TCP/IP stack for .NET, and tools around it.");
        root.Options.Add(CommonOptions.Verbose);
        foreach (Verb verb in verbs)
        {
            UsageErrors.AddCommonValidators(verb.Command);
            root.Subcommands.Add(verb.Command);
        }

        // 'protocols VERB --help': the library's generated help, then the verb's details.
        if (root.Options.OfType<HelpOption>().FirstOrDefault() is { Action: HelpAction generated } helpOption)
        {
            helpOption.Action = new VerbHelpAction(generated, verbs);
        }

        return root;
    }

    /// <summary>Runs the command line <paramref name="args"/> writing to <paramref name="stdout"/> and <paramref name="stderr"/>.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        IReadOnlyList<Verb> verbs = CreateVerbs();
        RootCommand root = CreateRoot(verbs);
        bool verbose = args.Contains(CommonOptions.Verbose.Name);
        var console = new VerbConsole(stdout, stderr) { Verbose = verbose };
        foreach (Verb verb in verbs)
        {
            verb.Command.SetAction(parse => verb.Run(parse, console));
        }

        ParseResult parse = root.Parse(args);
        var invocation = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null, // servers handle SIGINT/SIGTERM themselves (CLI.md: exit 0)
        };
        if (parse.Action is { } action && action is not ParseErrorAction && !ReferenceEquals(action, parse.CommandResult.Command.Action))
        {
            // --help, --version, [suggest] (shell completion), [diagram]: the library's own actions.
            return parse.Invoke(invocation);
        }

        if (UsageErrors.Describe(parse, args, [.. verbs.Select(v => v.Name)]) is { } usage)
        {
            stderr.WriteLine($"error: {usage}");
            return UsageError;
        }

        try
        {
            return parse.Invoke(invocation);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"error: {UsageErrors.OneLine(e.Message)}");
            return UsageError;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            stderr.WriteLine($"error: {UsageErrors.OneLine(e.Message)}");
            if (verbose)
            {
                stderr.WriteLine(e.ToString());
            }

            return Failure;
        }
    }
}

/// <summary>The <c>--help</c> action: the library's generated help, followed for a verb by its <see cref="Verb.Details"/>.</summary>
internal sealed class VerbHelpAction(HelpAction generated, IReadOnlyList<Verb> verbs) : SynchronousCommandLineAction
{
    /// <inheritdoc/>
    public override bool ClearsParseErrors => true;

    /// <inheritdoc/>
    public override int Invoke(ParseResult parseResult)
    {
        int code = generated.Invoke(parseResult);
        if (verbs.FirstOrDefault(v => ReferenceEquals(v.Command, parseResult.CommandResult.Command)) is { } verb)
        {
            TextWriter output = parseResult.InvocationConfiguration.Output;
            output.WriteLine("Details:");
            foreach (string line in verb.Details.Split('\n'))
            {
                output.WriteLine($"  {line}");
            }

            output.WriteLine();
        }

        return code;
    }
}
