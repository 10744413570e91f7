using Protocols.Tcp.Engine;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Engine;

public class SipHashTests
{
    private static readonly byte[] PaperKey = [.. Enumerable.Range(0, 16).Select(i => (byte)i)];

    // The SipHash paper's appendix A example (15 bytes) and vectors of the reference
    // implementation (key 00..0f, message 00 01 02 ... of each length).
    [Theory]
    [InlineData(0, 0x726fdb47dd0e0e31UL)]
    [InlineData(1, 0x74f839c593dc67fdUL)]
    [InlineData(8, 0x93f5f5799a932462UL)]
    [InlineData(15, 0xa129ca6149be45e5UL)]
    public void Matches_the_reference_vectors(int length, ulong expected)
    {
        byte[] message = [.. Enumerable.Range(0, length).Select(i => (byte)i)];
        Assert.Equal(expected, new SipHash(PaperKey).Hash(message));
    }

    [Fact]
    public void Key_words_are_little_endian()
    {
        var fromBytes = new SipHash(PaperKey);
        var fromWords = new SipHash(0x0706050403020100UL, 0x0f0e0d0c0b0a0908UL);
        byte[] message = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        Assert.Equal(fromBytes.Hash(message), fromWords.Hash(message));
    }

    [Fact]
    public void Rejects_a_key_of_the_wrong_length()
    {
        Assert.Throws<ArgumentException>(() => new SipHash(new byte[15]));
    }
}
