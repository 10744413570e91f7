using System.Buffers.Binary;
using System.Runtime.Intrinsics;

namespace Protocols.Wire;

/// <summary>
/// The RFC 1071 Internet checksum: the 16-bit ones'-complement of the ones'-complement sum of
/// the data taken as big-endian 16-bit words (an odd final byte is padded with zero).
/// </summary>
/// <remarks>
/// Sums are carried as <see cref="uint"/> partial sums so a header, a pseudo-header and a payload
/// can be summed separately and combined (RFC 1071 section 2(A), commutative and associative; and
/// its "deferred carries" technique). A partial sum of a block that starts at an odd offset of the
/// message must be byte-swapped before it is combined (<see cref="Add(uint, uint, bool)"/>).
/// </remarks>
public static partial class Checksum
{
    /// <summary>Ones'-complement sum of <paramref name="data"/> added to <paramref name="initial"/>, folded to 16 bits (not complemented).</summary>
    /// <remarks>
    /// Vectorised (512-, 256- or 128-bit, as the CPU allows) for long inputs, 8 bytes at a time
    /// for short ones. Any length and any alignment.
    /// </remarks>
    public static uint Sum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        // The vector loops read lanes in memory order and rely on a little-endian host (every
        // host .NET runs on); a big-endian one takes the scalar loop, which handles both.
        ulong acc;
        if (!BitConverter.IsLittleEndian)
        {
            acc = AccumulateScalar(data);
        }
        else if (Vector512.IsHardwareAccelerated && data.Length >= Vector512Threshold)
        {
            acc = AccumulateVector512(data);
        }
        else if (Vector256.IsHardwareAccelerated && data.Length >= Vector256Threshold)
        {
            acc = AccumulateVector256(data);
        }
        else if (Vector128.IsHardwareAccelerated && data.Length >= Vector128Threshold)
        {
            acc = AccumulateVector128(data);
        }
        else
        {
            acc = AccumulateScalar(data);
        }

        return FromLittleEndianAccumulator(acc, initial);
    }

    /// <summary>Folds a wide ones'-complement accumulator to 16 bits.</summary>
    public static uint Fold(ulong acc)
    {
        acc = (acc & 0xffff_ffff) + (acc >> 32);
        acc = (acc & 0xffff) + (acc >> 16);
        acc = (acc & 0xffff) + (acc >> 16);
        acc = (acc & 0xffff) + (acc >> 16);
        return (uint)acc;
    }

    /// <summary>Combines two partial sums; when <paramref name="secondStartsAtOddOffset"/>, the second is byte-swapped first.</summary>
    public static uint Add(uint first, uint second, bool secondStartsAtOddOffset = false)
    {
        if (secondStartsAtOddOffset)
        {
            second = Fold(second);
            second = ((second & 0xff) << 8) | (second >> 8);
        }

        return Fold((ulong)first + second);
    }

    /// <summary>The checksum to transmit: the complement of the folded sum.</summary>
    public static ushort Finish(uint sum) => (ushort)~Fold(sum);

    /// <summary>The Internet checksum of <paramref name="data"/>, ready to transmit.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, uint initial = 0) => Finish(Sum(data, initial));

    /// <summary>
    /// The partial sum of the IPv4 pseudo-header used by TCP and UDP (RFC 793 3.1, RFC 768):
    /// source, destination, zero, protocol, and the transport length.
    /// </summary>
    public static uint PseudoHeaderSum(Ipv4Address source, Ipv4Address destination, byte protocol, int transportLength)
    {
        ulong acc = (ulong)(source.ToUInt32() >> 16) + (source.ToUInt32() & 0xffff)
            + (destination.ToUInt32() >> 16) + (destination.ToUInt32() & 0xffff)
            + protocol + (uint)(ushort)transportLength;
        return Fold(acc);
    }

    /// <summary>
    /// The partial sum of the IPv6 pseudo-header used by TCP, UDP and ICMPv6 (RFC 8200 8.1):
    /// source, destination, the 32-bit upper-layer packet length, three zero bytes, and the next
    /// header value of the upper-layer protocol.
    /// </summary>
    public static uint PseudoHeaderSum(Ipv6Address source, Ipv6Address destination, byte nextHeader, int upperLayerLength)
    {
        // Summing 32-bit big-endian words and folding equals summing the 16-bit words (RFC 1071 2(B)).
        ulong acc = Words(source.High) + Words(source.Low) + Words(destination.High) + Words(destination.Low)
            + (uint)upperLayerLength + nextHeader;
        return Fold(acc);

        static ulong Words(ulong v) => (v >> 32) + (v & 0xffff_ffff);
    }

    /// <summary>
    /// The pseudo-header partial sum for either family: RFC 793 3.1 / RFC 768 for IPv4, RFC 8200 8.1
    /// for IPv6. Both addresses must be of one family.
    /// </summary>
    /// <exception cref="ArgumentException">The addresses are of different families.</exception>
    public static uint PseudoHeaderSum(IpAddress source, IpAddress destination, byte protocol, int transportLength)
    {
        if (source.IsIpv6 != destination.IsIpv6)
        {
            throw new ArgumentException($"Pseudo-header of {source} and {destination}: the families differ.", nameof(destination));
        }

        return source.IsIpv6
            ? PseudoHeaderSum(source.ToIpv6(), destination.ToIpv6(), protocol, transportLength)
            : PseudoHeaderSum(source.ToIpv4(), destination.ToIpv4(), protocol, transportLength);
    }

    /// <summary>
    /// RFC 1624 equation 3: the new checksum after one 16-bit word covered by
    /// <paramref name="oldChecksum"/> changes from <paramref name="oldWord"/> to <paramref name="newWord"/>.
    /// HC' = ~(~HC + ~m + m').
    /// </summary>
    public static ushort Update(ushort oldChecksum, ushort oldWord, ushort newWord)
    {
        ulong acc = (ulong)(ushort)~oldChecksum + (ushort)~oldWord + newWord;
        return (ushort)~Fold(acc);
    }

    /// <summary>RFC 1624 update for a 32-bit quantity (e.g. an IPv4 address rewritten by NAT).</summary>
    public static ushort Update(ushort oldChecksum, uint oldValue, uint newValue)
    {
        ulong acc = (ulong)(ushort)~oldChecksum
            + (ushort)~(ushort)(oldValue >> 16) + (ushort)~(ushort)oldValue
            + (newValue >> 16) + (newValue & 0xffff);
        return (ushort)~Fold(acc);
    }
}
