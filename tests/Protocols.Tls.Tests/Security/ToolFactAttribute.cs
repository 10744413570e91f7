namespace Protocols.Tls.Tests.Security;

/// <summary>A fact that runs an external program; reported skipped (with the reason) where it is not installed.</summary>
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
