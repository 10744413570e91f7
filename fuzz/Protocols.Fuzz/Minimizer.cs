using System.Text.RegularExpressions;

namespace Protocols.Fuzz;

/// <summary>
/// Shrinks a failing input while it keeps failing the same way (same exception type, thrown from
/// the same method, or the same property broken): removes chunks from half the input down to single bytes, then sets each
/// remaining byte to zero, until nothing more can go. Runs the target in process, so it needs no
/// afl and works on the plain (uninstrumented) build.
/// </summary>
internal static partial class Minimizer
{
    /// <summary>How <paramref name="target"/> fails on <paramref name="input"/> (exception type and where it was thrown), or null when it passes.</summary>
    public static string? Failure(FuzzTarget target, byte[] input)
    {
        try
        {
            target(input);
            return null;
        }
        catch (FuzzPropertyException e)
        {
            // The property broken: its message with the numbers (values, lengths, bytes) taken out.
            string text = Numbers().Replace(e.Message, "#");
            return $"property {text[..Math.Min(text.Length, 100)]}";
        }
        catch (Exception e)
        {
            string where = e.StackTrace?.Split('\n', 2)[0].Trim() ?? "";
            int args = where.IndexOf(" in ", StringComparison.Ordinal);
            return $"{e.GetType().FullName} {(args > 0 ? where[..args] : where)}";
        }
    }

    public static byte[] Minimize(FuzzTarget target, byte[] input, string failure)
    {
        byte[] current = input;
        for (int chunk = Math.Max(1, current.Length / 2); chunk >= 1; chunk /= 2)
        {
            for (int start = 0; start < current.Length;)
            {
                int n = Math.Min(chunk, current.Length - start);
                byte[] candidate = [.. current.AsSpan(0, start), .. current.AsSpan(start + n)];
                if (Failure(target, candidate) == failure)
                {
                    current = candidate;
                }
                else
                {
                    start += n;
                }
            }
        }

        for (int i = 0; i < current.Length; i++)
        {
            if (current[i] != 0)
            {
                byte[] candidate = [.. current];
                candidate[i] = 0;
                if (Failure(target, candidate) == failure)
                {
                    current = candidate;
                }
            }
        }

        return current;
    }

    [GeneratedRegex("[0-9a-f]{2,}|[0-9]+")]
    private static partial Regex Numbers();
}
