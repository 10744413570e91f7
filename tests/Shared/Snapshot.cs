using System.Runtime.CompilerServices;
using System.Text;
using Xunit.Sdk;

namespace Protocols.Tests.Shared;

/// <summary>
/// Verify-style golden files (see shared/SNAPSHOTS.md): <c>Snapshots/{Class}.{Method}[_{case}].verified.txt</c>
/// next to the calling test source. A mismatch or a missing file writes <c>*.received.txt</c> and
/// fails with a diff; <c>UPDATE_SNAPSHOTS=1</c> accepts the received text as verified.
/// </summary>
public static class Snapshot
{
    public static void Match(
        string actual,
        string? caseName = null,
        [CallerFilePath] string callerFile = "",
        [CallerMemberName] string callerMember = "")
    {
        string dir = Path.Combine(Path.GetDirectoryName(callerFile)!, "Snapshots");
        string cls = Path.GetFileNameWithoutExtension(callerFile);
        string stem = $"{cls}.{callerMember}" + (string.IsNullOrEmpty(caseName) ? "" : "_" + Sanitize(caseName));
        string verifiedPath = Path.Combine(dir, stem + ".verified.txt");
        string receivedPath = Path.Combine(dir, stem + ".received.txt");
        string normalized = Normalize(actual);

        string? verified = File.Exists(verifiedPath) ? Normalize(File.ReadAllText(verifiedPath)) : null;
        if (verified == normalized)
        {
            if (File.Exists(receivedPath))
            {
                File.Delete(receivedPath);
            }

            return;
        }

        Directory.CreateDirectory(dir);
        if (Environment.GetEnvironmentVariable("UPDATE_SNAPSHOTS") == "1" && Environment.GetEnvironmentVariable("CI") != "true")
        {
            File.WriteAllText(verifiedPath, normalized);
            if (File.Exists(receivedPath))
            {
                File.Delete(receivedPath);
            }

            return;
        }

        File.WriteAllText(receivedPath, normalized);
        throw new XunitException(verified is null
            ? $"Snapshot {stem} has no verified file. Review {receivedPath} and accept it with UPDATE_SNAPSHOTS=1.\n{normalized}"
            : $"Snapshot {stem} differs from {verifiedPath} (received: {receivedPath}):\n{Diff(verified, normalized)}");
    }

    private static string Normalize(string s)
    {
        s = s.Replace("\r\n", "\n");
        return s.EndsWith('\n') ? s : s + "\n";
    }

    private static string Sanitize(string s)
    {
        var sb = new StringBuilder();
        foreach (char c in s)
        {
            sb.Append(char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
        }

        return sb.ToString();
    }

    /// <summary>A line diff: "-" verified, "+" received, with a little context.</summary>
    private static string Diff(string expected, string actual)
    {
        string[] a = expected.Split('\n');
        string[] b = actual.Split('\n');

        // Longest common subsequence table; snapshots are small.
        int[,] lcs = new int[a.Length + 1, b.Length + 1];
        for (int i = a.Length - 1; i >= 0; i--)
        {
            for (int j = b.Length - 1; j >= 0; j--)
            {
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            }
        }

        var sb = new StringBuilder();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y])
            {
                sb.Append("  ").Append(a[x]).Append('\n');
                x++;
                y++;
            }
            else if (y < b.Length && (x == a.Length || lcs[x, y + 1] >= lcs[x + 1, y]))
            {
                sb.Append("+ ").Append(b[y++]).Append('\n');
            }
            else
            {
                sb.Append("- ").Append(a[x++]).Append('\n');
            }
        }

        return sb.ToString();
    }
}
