using System.CommandLine;
using System.CommandLine.Parsing;

namespace Protocols.Cli.CommandLine;

/// <summary>
/// Turns what System.CommandLine found wrong with a command line into the one line CLI.md asks
/// for: the flag (or argument) first, then what is wrong. The first problem in command-line
/// order wins: a flag given a value it cannot take, an unknown option, a bad or missing value,
/// an argument too many, a missing verb.
/// </summary>
internal static class UsageErrors
{
    /// <summary>Adds the checks every option gets: a single-valued option or a switch given twice is an error.</summary>
    public static void AddCommonValidators(Command command)
    {
        foreach (Option option in command.Options)
        {
            if (option.Arity.MaximumNumberOfValues <= 1 && !option.Recursive)
            {
                option.Validators.Add(result =>
                {
                    if (result.IdentifierTokenCount > 1)
                    {
                        result.AddError($"{result.Option.Name}: given more than once");
                    }
                });
            }
        }
    }

    /// <summary>The one-line description (without <c>error: </c>) of the first problem of <paramref name="parse"/>, or null when it has none.</summary>
    /// <param name="parse">The parse result.</param>
    /// <param name="args">The command line as given (System.CommandLine splits <c>--flag=value</c> before it is seen).</param>
    /// <param name="verbs">The verb names, for a missing or unknown verb.</param>
    public static string? Describe(ParseResult parse, IReadOnlyList<string> args, IReadOnlyList<string> verbs)
    {
        Command command = parse.CommandResult.Command;
        if (command is RootCommand)
        {
            return DescribeRoot(parse, args, verbs);
        }

        // A switch given a value: "--json=yes".
        foreach (string arg in args)
        {
            if (arg == "--")
            {
                break;
            }

            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 2
                && command.Options.Concat([CommonOptions.Verbose]).FirstOrDefault(o => o.Name == arg[..eq] || o.Aliases.Contains(arg[..eq])) is { Arity.MaximumNumberOfValues: 0 } flag)
            {
                return $"{flag.Name}: takes no value, got '{arg[(eq + 1)..]}'";
            }
        }

        // A token that looks like an option but is none of this verb's, before any "--".
        var optionValues = new HashSet<Token>(ReferenceEqualityComparer.Instance);
        foreach (OptionResult option in parse.CommandResult.Children.OfType<OptionResult>())
        {
            optionValues.UnionWith(option.Tokens);
        }

        foreach (Token token in parse.Tokens)
        {
            if (token.Type == TokenType.DoubleDash)
            {
                break;
            }

            if (token.Type == TokenType.Argument && token.Value.Length > 1 && token.Value[0] == '-' && !optionValues.Contains(token))
            {
                string name = token.Value.Split('=', 2)[0];
                return $"{name}: unknown option for '{command.Name}' (see 'protocols {command.Name} --help')";
            }
        }

        if (parse.Errors.Count == 0)
        {
            return null;
        }

        // Errors on an option's or argument's value, in command-line order; ours already name the flag.
        foreach (ParseError error in parse.Errors)
        {
            switch (error.SymbolResult)
            {
                case OptionResult option:
                    return Named(option.Option.Name, error.Message,
                        option.IdentifierTokenCount > 1 && option.Option.Arity.MaximumNumberOfValues <= 1 ? "given more than once"
                        : option.Tokens.Count == 0 && option.Option.Arity.MinimumNumberOfValues > 0 ? $"expected {option.Option.HelpName ?? "a value"} after it"
                        : error.Message);
                case ArgumentResult { Parent: OptionResult option }:
                    return Named(option.Option.Name, error.Message, error.Message);
                case ArgumentResult argument:
                    return Named(argument.Argument.Name, error.Message, argument.Tokens.Count == 0
                        ? $"missing (see 'protocols {command.Name} --help')"
                        : error.Message);
            }
        }

        if (parse.UnmatchedTokens.Count > 0)
        {
            string extra = parse.UnmatchedTokens[0];
            Argument? positional = command.Arguments.LastOrDefault();
            return positional is null
                ? $"{extra}: unexpected argument for '{command.Name}'"
                : $"{extra}: unexpected argument after {positional.Name}";
        }

        return OneLine(parse.Errors[0].Message);
    }

    private static string? DescribeRoot(ParseResult parse, IReadOnlyList<string> args, IReadOnlyList<string> verbs)
    {
        if (parse.Errors.Count == 0)
        {
            return null;
        }

        string known = string.Join(", ", verbs);
        string? first = args.FirstOrDefault(a => a != CommonOptions.Verbose.Name);
        return first switch
        {
            null => $"no verb given (one of: {known}; see 'protocols --help')",
            _ when first.StartsWith('-') => $"{first}: unknown option (expected a verb first; see 'protocols --help')",
            _ => $"{first}: unknown verb (one of: {known})",
        };
    }

    /// <summary><paramref name="message"/> when it already starts with the flag, else <c>FLAG: fallback</c>.</summary>
    private static string Named(string flag, string message, string fallback) =>
        message.StartsWith(flag + ":", StringComparison.Ordinal) ? OneLine(message) : $"{flag}: {OneLine(fallback)}";

    /// <summary>The first line of <paramref name="message"/>.</summary>
    public static string OneLine(string message)
    {
        int newline = message.IndexOfAny(['\r', '\n']);
        return newline < 0 ? message : message[..newline];
    }
}
