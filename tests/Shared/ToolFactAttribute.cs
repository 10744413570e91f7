namespace Protocols.Tests.Shared;

/// <summary>
/// A fact that runs or cross-checks against an external program (e.g. <c>/usr/bin/tcpdump</c>,
/// <c>/usr/bin/openssl</c>). Where the program is absent the test reports itself skipped with the
/// reason, instead of passing unchecked.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class ToolFactAttribute(string toolPath) : FactAttribute
{
    /// <summary>Full path of the program the test runs.</summary>
    public string ToolPath { get; } = toolPath;

    /// <inheritdoc/>
    public override string? Skip
    {
        get => base.Skip ?? (File.Exists(ToolPath) ? null : $"{ToolPath} is not installed");
        set => base.Skip = value;
    }
}
