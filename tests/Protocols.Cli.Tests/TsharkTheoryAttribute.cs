namespace Protocols.Cli.Tests;

/// <summary>
/// A theory that runs the live <c>tshark</c>: when tshark is not on PATH it reports itself
/// skipped with the reason (the committed TSV test still compares every capture).
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class TsharkTheoryAttribute : TheoryAttribute
{
    /// <summary>The full path of tshark on PATH, or null when it is not installed.</summary>
    public static readonly string? Tshark = FindOnPath("tshark");

    /// <inheritdoc/>
    public override string? Skip
    {
        get => base.Skip ?? (Tshark is null ? "tshark is not installed (the committed NAME.tshark.tsv files are still compared)" : null);
        set => base.Skip = value;
    }

    private static string? FindOnPath(string tool)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
