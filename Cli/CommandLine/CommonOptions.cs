using System.CommandLine;
using System.CommandLine.Parsing;
using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Cli.CommandLine;

/// <summary>
/// Factories for the options of the <c>protocols</c> verbs. An option that several verbs take is
/// declared here once (<see cref="Pcap"/>, <see cref="Mtu"/>, the device options of
/// <see cref="DeviceOptions"/>); each verb gets its own instance, so verbs stay independent.
/// </summary>
internal static class CommonOptions
{
    /// <summary>The switch every verb accepts: stack traces of failures, server logging.</summary>
    public static Option<bool> Verbose { get; } = new("--verbose")
    {
        Description = "show stack traces of failures (and, for servers, their log; for serve and get, what the stack drops and why)",
        Arity = ArgumentArity.Zero,
        Recursive = true,
    };

    /// <summary>A switch without a value (<c>--json</c>); <c>--json=yes</c> is an error naming it.</summary>
    public static Option<bool> Flag(string name, string description) => new(name)
    {
        Description = description,
        Arity = ArgumentArity.Zero,
    };

    /// <summary>An option taking one value read by <paramref name="parser"/> (one of <see cref="OptionValues"/>).</summary>
    /// <param name="name">The flag, e.g. <c>--bytes</c>.</param>
    /// <param name="helpName">The value's placeholder in help, e.g. <c>N</c>.</param>
    /// <param name="description">One line of help (the default, if any, is shown by the help itself).</param>
    /// <param name="parser">Reads the value, or reports why it is bad.</param>
    /// <param name="defaultValue">The value when the option is absent (shown in help); absent means default(T).</param>
    public static Option<T> Value<T>(string name, string helpName, string description, Func<ArgumentResult, T> parser, Func<T>? defaultValue = null)
    {
        var option = new Option<T>(name)
        {
            Description = description,
            HelpName = helpName,
            Arity = ArgumentArity.ExactlyOne,
            CustomParser = parser,
        };
        if (defaultValue is not null)
        {
            option.DefaultValueFactory = _ => defaultValue();
        }

        return option;
    }

    /// <summary>An option that may be given several times (<c>--address A --address B</c>), one value each time, all read by <paramref name="parser"/>.</summary>
    /// <param name="name">The flag.</param>
    /// <param name="helpName">The value's placeholder in help.</param>
    /// <param name="description">One line of help.</param>
    /// <param name="parser">Reads every value (<c>result.Tokens</c>), or reports the first bad one.</param>
    public static Option<T[]> Repeated<T>(string name, string helpName, string description, Func<ArgumentResult, T[]> parser) => new(name)
    {
        Description = description,
        HelpName = helpName,
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
        CustomParser = parser,
        DefaultValueFactory = _ => [],
    };

    /// <summary><c>--pcap FILE</c>: capture every frame of the verb's device.</summary>
    public static Option<string?> Pcap(string description = "write every frame in and out to FILE as pcap") =>
        Value("--pcap", "FILE", description, OptionValues.Path);

    /// <summary><c>--mtu M</c> from <paramref name="minimum"/> to 65535; null when absent unless <paramref name="defaultMtu"/> is given.</summary>
    public static Option<int?> Mtu(int minimum, string description, int? defaultMtu = null) =>
        Value("--mtu", "M", description, OptionValues.OptionalInteger(minimum, 65535), defaultMtu is { } value ? () => value : null);

    /// <summary>A port option (<c>--http PORT</c>), null when absent.</summary>
    public static Option<ushort?> Port(string name, string description) =>
        Value(name, "PORT", description, OptionValues.Port);

    /// <summary><c>--seed N</c>: the seed of a simulation's randomness.</summary>
    public static Option<int> Seed(string description, int maximum = int.MaxValue) =>
        Value("--seed", "N", description, OptionValues.Integer(0, maximum), () => 1);

    /// <summary>
    /// <c>--cc NAME</c>: the congestion controller of the verb's connections, one of the registry's
    /// names (case-insensitive, read back as the registry spells it); null when absent (the stack's default).
    /// </summary>
    public static Option<string?> CongestionControl() =>
        Value("--cc", "NAME", "the congestion controller: " + string.Join(", ", CongestionControllerRegistry.Default.Names) + " (default " + CongestionRules.DefaultName + ")",
            OptionValues.OneOf(CongestionControllerRegistry.Default.Names));

    /// <summary><c>--loss P</c>: the fraction of frames a simulated link drops, each way.</summary>
    public static Option<double> Loss(string description) =>
        Value("--loss", "P", description, OptionValues.LossFraction, () => 0.0);
}
