namespace Protocols.Tcp.Tests.Harness;

/// <summary>Payloads for transfers: pseudo-random bytes, the same for the same seed in every run.</summary>
internal static class TestData
{
    /// <summary><paramref name="length"/> bytes from <see cref="System.Random"/> seeded with <paramref name="seed"/>.</summary>
    public static byte[] Seeded(int length, int seed = 7)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}
