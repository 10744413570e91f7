namespace Protocols.Tcp.Tests.Sockets;

/// <summary>
/// A fact whose connection count comes from <c>PROTOCOLS_TCP_SCALE</c> (default
/// <see cref="DefaultCount"/>). With <c>PROTOCOLS_TCP_SCALE=0</c> the test reports itself skipped,
/// with the reason, instead of passing without running.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class ScaleFactAttribute : FactAttribute
{
    /// <summary>The environment variable that sets the count.</summary>
    public const string Variable = "PROTOCOLS_TCP_SCALE";

    /// <summary>The count when the variable is unset or not a number.</summary>
    public const int DefaultCount = 100_000;

    /// <summary>The number of connections the test opens; 0 or less means skip it.</summary>
    public static int Count => int.TryParse(Environment.GetEnvironmentVariable(Variable), out int n) ? n : DefaultCount;

    /// <inheritdoc/>
    public override string? Skip
    {
        get => base.Skip ?? (Count > 0 ? null : $"{Variable}={Environment.GetEnvironmentVariable(Variable)}: the scale test is disabled (a machine short of memory)");
        set => base.Skip = value;
    }
}
