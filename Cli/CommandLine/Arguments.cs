using System.Globalization;

namespace Protocols.Cli.CommandLine;

/// <summary>The kinds of value an option takes.</summary>
internal enum OptionKind
{
    /// <summary>A switch without a value (<c>--json</c>).</summary>
    Flag,

    /// <summary>A positive integer (<c>--bytes 1048576</c>); k/M/G suffixes (powers of 1024) are accepted.</summary>
    PositiveInteger,

    /// <summary>Any non-negative integer (<c>--seed 0</c>).</summary>
    Integer,

    /// <summary>A fraction from 0 to 1 inclusive (<c>--loss 0.05</c>).</summary>
    Fraction,

    /// <summary>A file path.</summary>
    Path,

    /// <summary>A non-negative decimal number (<c>--seconds 2.5</c>).</summary>
    Number,
}

/// <summary>One option of a verb.</summary>
/// <param name="Name">The long name including the dashes, e.g. <c>--bytes</c>.</param>
/// <param name="Kind">What value it takes.</param>
/// <param name="ValueName">The placeholder shown in help, e.g. <c>N</c>.</param>
/// <param name="Help">One line of help.</param>
internal sealed record OptionSpec(string Name, OptionKind Kind, string ValueName, string Help);

/// <summary>A bad command line: the program exits 2 with <see cref="Exception.Message"/> on one line.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The parsed command line of one verb.</summary>
internal sealed class ParsedArguments
{
    private readonly Dictionary<string, object> _values = new(StringComparer.Ordinal);

    /// <summary>The positional arguments in order.</summary>
    public List<string> Positionals { get; } = [];

    /// <summary>True when the flag or option was given.</summary>
    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>The value of an integer option, or <paramref name="fallback"/>.</summary>
    public long GetInteger(string name, long fallback) => _values.TryGetValue(name, out object? v) ? (long)v : fallback;

    /// <summary>The value of a fraction option, or <paramref name="fallback"/>.</summary>
    public double GetFraction(string name, double fallback) => _values.TryGetValue(name, out object? v) ? (double)v : fallback;

    /// <summary>The value of a number option, or <paramref name="fallback"/>.</summary>
    public double GetNumber(string name, double fallback) => _values.TryGetValue(name, out object? v) ? (double)v : fallback;

    /// <summary>The value of a path option, or null.</summary>
    public string? GetPath(string name) => _values.TryGetValue(name, out object? v) ? (string)v : null;

    internal void Set(string name, object value) => _values[name] = value;
}

/// <summary>A small, strict parser: long options only, values as the next argument or after <c>=</c>.</summary>
internal static class ArgumentParser
{
    /// <summary>The switch every verb accepts to show stack traces on failure.</summary>
    public const string Verbose = "--verbose";

    /// <summary>
    /// Parses <paramref name="args"/> against <paramref name="options"/>. Throws
    /// <see cref="UsageException"/> naming the offending flag; <c>--help</c> is handled by the caller.
    /// </summary>
    public static ParsedArguments Parse(string verb, IReadOnlyList<string> args, IReadOnlyList<OptionSpec> options, int minPositionals, int maxPositionals, string positionalName)
    {
        var result = new ParsedArguments();
        bool onlyPositionals = false;
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (onlyPositionals || arg == "-" || !arg.StartsWith('-'))
            {
                result.Positionals.Add(arg);
                continue;
            }

            if (arg == "--")
            {
                onlyPositionals = true;
                continue;
            }

            string name = arg;
            string? inlineValue = null;
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 2)
            {
                name = arg[..eq];
                inlineValue = arg[(eq + 1)..];
            }

            if (name == Verbose)
            {
                if (inlineValue is not null)
                {
                    throw new UsageException($"{Verbose}: takes no value");
                }

                result.Set(Verbose, true);
                continue;
            }

            OptionSpec? spec = null;
            foreach (OptionSpec candidate in options)
            {
                if (candidate.Name == name)
                {
                    spec = candidate;
                    break;
                }
            }

            if (spec is null)
            {
                throw new UsageException($"{name}: unknown option for '{verb}' (see 'protocols {verb} --help')");
            }

            if (result.Has(spec.Name))
            {
                throw new UsageException($"{spec.Name}: given more than once");
            }

            if (spec.Kind == OptionKind.Flag)
            {
                if (inlineValue is not null)
                {
                    throw new UsageException($"{spec.Name}: takes no value, got '{inlineValue}'");
                }

                result.Set(spec.Name, true);
                continue;
            }

            string value;
            if (inlineValue is not null)
            {
                value = inlineValue;
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }
            else
            {
                throw new UsageException($"{spec.Name}: expected {Describe(spec.Kind)} after it");
            }

            result.Set(spec.Name, ParseValue(spec, value));
        }

        if (result.Positionals.Count < minPositionals)
        {
            throw new UsageException($"{positionalName}: missing (usage: see 'protocols {verb} --help')");
        }

        if (result.Positionals.Count > maxPositionals)
        {
            string extra = result.Positionals[maxPositionals];
            throw new UsageException(maxPositionals == 0
                ? $"{extra}: unexpected argument for '{verb}'"
                : $"{extra}: unexpected argument after {positionalName}");
        }

        return result;
    }

    private static string Describe(OptionKind kind) => kind switch
    {
        OptionKind.PositiveInteger => "a positive integer",
        OptionKind.Integer => "a non-negative integer",
        OptionKind.Fraction => "a number from 0 to 1",
        OptionKind.Path => "a file name",
        OptionKind.Number => "a non-negative number",
        _ => "a value",
    };

    private static object ParseValue(OptionSpec spec, string value)
    {
        switch (spec.Kind)
        {
            case OptionKind.PositiveInteger:
                if (TryParseSize(value, out long size) && size > 0)
                {
                    return size;
                }

                break;
            case OptionKind.Integer:
                if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n))
                {
                    return n;
                }

                break;
            case OptionKind.Fraction:
                if (double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double f) && f is >= 0 and <= 1)
                {
                    return f;
                }

                break;
            case OptionKind.Number:
                if (double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double number) && double.IsFinite(number))
                {
                    return number;
                }

                break;
            case OptionKind.Path:
                if (value.Length > 0)
                {
                    return value;
                }

                break;
        }

        throw new UsageException($"{spec.Name}: expected {Describe(spec.Kind)}, got '{value}'");
    }

    /// <summary>Parses <c>123</c>, <c>64k</c>, <c>1M</c>, <c>2G</c> (binary multiples).</summary>
    private static bool TryParseSize(string text, out long value)
    {
        value = 0;
        long multiplier = 1;
        ReadOnlySpan<char> digits = text;
        if (digits.Length > 1)
        {
            switch (char.ToUpperInvariant(digits[^1]))
            {
                case 'K':
                    multiplier = 1L << 10;
                    break;
                case 'M':
                    multiplier = 1L << 20;
                    break;
                case 'G':
                    multiplier = 1L << 30;
                    break;
            }

            if (multiplier != 1)
            {
                digits = digits[..^1];
            }
        }

        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n > long.MaxValue / multiplier)
        {
            return false;
        }

        value = n * multiplier;
        return true;
    }
}
