using System.CommandLine;

namespace Protocols.Cli.CommandLine;

/// <summary>Where a verb writes: standard output for results, standard error for diagnostics.</summary>
/// <param name="Out">Results (trace lines, JSON).</param>
/// <param name="Error">Errors and notes.</param>
internal sealed record VerbConsole(TextWriter Out, TextWriter Error)
{
    /// <summary>Opens standard output for binary data (a <c>get</c> body); tests replace it.</summary>
    public Func<Stream> OpenBinaryOut { get; init; } = Console.OpenStandardOutput;

    /// <summary>True when <c>--verbose</c> was given: failures print their stack trace, servers log.</summary>
    public bool Verbose { get; init; }
}

/// <summary>
/// A verb of the <c>protocols</c> command: a System.CommandLine <see cref="System.CommandLine.Command"/>
/// whose options are typed and parsed by <see cref="OptionValues"/>, and a <see cref="Run"/> that gets
/// the parse result once it holds no error.
/// </summary>
internal abstract class Verb
{
    /// <summary>Creates the verb's command; subclasses add their options and arguments to <see cref="Command"/>.</summary>
    /// <param name="name">The verb's name on the command line.</param>
    /// <param name="summary">One line: what the verb does (the verb list of <c>protocols --help</c>).</param>
    /// <param name="details">The paragraph <c>protocols VERB --help</c> shows after the options.</param>
    protected Verb(string name, string summary, string details)
    {
        Command = new Command(name, summary);
        Details = details;
    }

    /// <summary>The verb's command (options, arguments, generated help).</summary>
    public Command Command { get; }

    /// <summary>The verb's name on the command line.</summary>
    public string Name => Command.Name;

    /// <summary>The paragraph of help shown after the options: how the verb works.</summary>
    public string Details { get; }

    /// <summary>
    /// Runs the verb on a parse result without errors. Returns the exit code; throws
    /// <see cref="UsageException"/> for bad combinations of values found here (exit 2).
    /// </summary>
    public abstract int Run(ParseResult parse, VerbConsole console);

    /// <summary>Adds <paramref name="option"/> to the verb and returns it (for field initialisers).</summary>
    protected T Add<T>(T option)
        where T : Option
    {
        Command.Options.Add(option);
        return option;
    }

    /// <summary>Adds the positional <paramref name="argument"/> to the verb and returns it.</summary>
    protected Argument<T> Add<T>(Argument<T> argument)
    {
        Command.Arguments.Add(argument);
        return argument;
    }
}

/// <summary>A bad command line found after parsing (two options that exclude each other, a file that cannot be loaded): exit 2 with the message on one line.</summary>
internal sealed class UsageException(string message) : Exception(message);
