namespace Protocols.Fuzz;

/// <summary>
/// One fuzz target: runs the code under test on <paramref name="input"/> and throws
/// <see cref="FuzzPropertyException"/> when a property it checks does not hold. Any other
/// exception that escapes is a crash too (the code under test threw on hostile input).
/// </summary>
/// <param name="input">The fuzzer's bytes.</param>
public delegate void FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>A property of the code under test that an input broke.</summary>
public sealed class FuzzPropertyException : Exception
{
    /// <summary>Creates the exception with what went wrong.</summary>
    public FuzzPropertyException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an empty exception.</summary>
    public FuzzPropertyException()
    {
    }

    /// <summary>Creates the exception with what went wrong and the cause.</summary>
    public FuzzPropertyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Property checks for the targets: each throws <see cref="FuzzPropertyException"/> when it fails.</summary>
public static class Check
{
    /// <summary>Fails with <paramref name="message"/> unless <paramref name="condition"/> holds.</summary>
    public static void True(bool condition, string message)
    {
        if (!condition)
        {
            throw new FuzzPropertyException(message);
        }
    }

    /// <summary>Fails unless both spans hold the same bytes.</summary>
    public static void Equal(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, string what)
    {
        if (!expected.SequenceEqual(actual))
        {
            throw new FuzzPropertyException($"{what}: expected {Convert.ToHexStringLower(expected)}, got {Convert.ToHexStringLower(actual)}");
        }
    }

    /// <summary>Fails unless the values are equal.</summary>
    public static void Equal<T>(T expected, T actual, string what)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
        {
            throw new FuzzPropertyException($"{what}: expected {expected}, got {actual}");
        }
    }

    /// <summary>True when <paramref name="inner"/> lies within <paramref name="outer"/> (same memory).</summary>
    public static bool Within(ReadOnlySpan<byte> outer, ReadOnlySpan<byte> inner) =>
        inner.IsEmpty || outer.Overlaps(inner, out int offset) && offset >= 0 && offset + inner.Length <= outer.Length;
}
