using System.Buffers.Binary;
using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// Builds an IPv4 options region (RFC 791 3.1) into a span, one option after another. Each
/// method throws <see cref="ArgumentException"/> when the option does not fit or its arguments
/// cannot be encoded; <see cref="PadToWord"/> finishes the region on a 32-bit boundary as IHL
/// requires.
/// </summary>
public ref struct Ipv4OptionWriter
{
    /// <summary>The most option bytes an IPv4 header can carry: (15 - 5) × 4.</summary>
    public const int MaxOptionsLength = 40;

    private readonly Span<byte> _buffer;
    private int _written;

    /// <summary>Starts writing at the beginning of <paramref name="buffer"/>.</summary>
    public Ipv4OptionWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _written = 0;
    }

    /// <summary>The number of bytes written so far.</summary>
    public readonly int Length => _written;

    /// <summary>The bytes written so far.</summary>
    public readonly ReadOnlySpan<byte> Written => _buffer[.._written];

    /// <summary>Writes End of Option List (type 0).</summary>
    public void WriteEndOfList() => Reserve(1)[0] = (byte)Ipv4OptionKind.EndOfOptionList;

    /// <summary>Writes No Operation (type 1).</summary>
    public void WriteNoOperation() => Reserve(1)[0] = (byte)Ipv4OptionKind.NoOperation;

    /// <summary>Writes any type-length-value option: <paramref name="type"/>, length = 2 + data length, data.</summary>
    public void WriteOption(byte type, scoped ReadOnlySpan<byte> data)
    {
        if (type is (byte)Ipv4OptionKind.EndOfOptionList or (byte)Ipv4OptionKind.NoOperation)
        {
            throw new ArgumentException("EOL and NOP are single-octet options; use WriteEndOfList or WriteNoOperation.", nameof(type));
        }

        if (data.Length > 253)
        {
            throw new ArgumentException("An option's length octet cannot exceed 255.", nameof(data));
        }

        Span<byte> o = Reserve(2 + data.Length);
        o[0] = type;
        o[1] = (byte)(2 + data.Length);
        data.CopyTo(o[2..]);
    }

    /// <summary>
    /// Writes a record route (or loose/strict source route) option with <paramref name="slots"/>
    /// address slots, the first of them filled from <paramref name="addresses"/>, and the pointer
    /// at the first slot after <paramref name="recorded"/> recorded ones (RFC 791 3.1).
    /// </summary>
    /// <param name="kind">RecordRoute, LooseSourceRoute or StrictSourceRoute.</param>
    /// <param name="slots">Number of 4-byte address slots.</param>
    /// <param name="addresses">Addresses for the first slots (at most <paramref name="slots"/>); the rest are 0.0.0.0.</param>
    /// <param name="recorded">How many slots the pointer has passed (0..slots).</param>
    public void WriteRoute(Ipv4OptionKind kind, int slots, scoped ReadOnlySpan<Ipv4Address> addresses, int recorded = 0)
    {
        if (kind is not (Ipv4OptionKind.RecordRoute or Ipv4OptionKind.LooseSourceRoute or Ipv4OptionKind.StrictSourceRoute))
        {
            throw new ArgumentException("Not a route option kind.", nameof(kind));
        }

        if (slots < 0 || 3 + (slots * 4) > 255 || addresses.Length > slots || recorded < 0 || recorded > slots)
        {
            throw new ArgumentException("Route slots, addresses and recorded count are inconsistent.", nameof(slots));
        }

        Span<byte> o = Reserve(3 + (slots * 4));
        o[0] = (byte)kind;
        o[1] = (byte)o.Length;
        o[2] = (byte)(4 + (recorded * 4));
        o[3..].Clear();
        for (int i = 0; i < addresses.Length; i++)
        {
            ((ReadOnlySpan<byte>)addresses[i]).CopyTo(o.Slice(3 + (i * 4), 4));
        }
    }

    /// <summary>Writes a record route option (type 7): <paramref name="slots"/> slots, <paramref name="recorded"/> of them filled.</summary>
    public void WriteRecordRoute(int slots, scoped ReadOnlySpan<Ipv4Address> recorded) =>
        WriteRoute(Ipv4OptionKind.RecordRoute, slots, recorded, recorded.Length);

    /// <summary>
    /// Writes an Internet timestamp option (type 68, RFC 791 3.1) with <paramref name="slots"/>
    /// entries, the first ones taken from <paramref name="entries"/>, and the pointer after
    /// <paramref name="recorded"/> of them.
    /// </summary>
    /// <param name="flag">What each entry holds (4 bytes for timestamps only, else 8).</param>
    /// <param name="slots">Number of entry slots.</param>
    /// <param name="entries">Values of the first slots; the address is ignored for <see cref="Ipv4TimestampFlag.TimestampsOnly"/>.</param>
    /// <param name="recorded">How many entries the pointer has passed (0..slots).</param>
    /// <param name="overflow">The overflow count, 0..15.</param>
    public void WriteTimestamp(Ipv4TimestampFlag flag, int slots, scoped ReadOnlySpan<Ipv4TimestampEntry> entries, int recorded, int overflow = 0)
    {
        if (flag is not (Ipv4TimestampFlag.TimestampsOnly or Ipv4TimestampFlag.AddressAndTimestamp or Ipv4TimestampFlag.Prespecified))
        {
            throw new ArgumentException("Undefined timestamp flag.", nameof(flag));
        }

        int entry = flag == Ipv4TimestampFlag.TimestampsOnly ? 4 : 8;
        if (slots < 0 || 4 + (slots * entry) > 255 || entries.Length > slots || recorded < 0 || recorded > slots || overflow is < 0 or > 15)
        {
            throw new ArgumentException("Timestamp slots, entries, recorded count or overflow are inconsistent.", nameof(slots));
        }

        Span<byte> o = Reserve(4 + (slots * entry));
        o[0] = (byte)Ipv4OptionKind.Timestamp;
        o[1] = (byte)o.Length;
        o[2] = (byte)(5 + (recorded * entry));
        o[3] = (byte)((overflow << 4) | (byte)flag);
        o[4..].Clear();
        for (int i = 0; i < entries.Length; i++)
        {
            Span<byte> e = o.Slice(4 + (i * entry), entry);
            if (entry == 8)
            {
                Ipv4Address address = entries[i].Address;
                ((ReadOnlySpan<byte>)address).CopyTo(e);
                e = e[4..];
            }

            BinaryPrimitives.WriteUInt32BigEndian(e, entries[i].Timestamp);
        }
    }

    /// <summary>
    /// Ends the region on a 32-bit boundary (IHL counts words): when the length is not a multiple
    /// of 4, writes End of Option List and zero padding (RFC 791 3.1). Returns the final length.
    /// </summary>
    public int PadToWord()
    {
        int pad = (4 - (_written % 4)) % 4;
        if (pad > 0)
        {
            Reserve(pad).Clear();
        }

        return _written;
    }

    private Span<byte> Reserve(int count)
    {
        if (_buffer.Length - _written < count)
        {
            throw new ArgumentException($"The option needs {count} bytes; {_buffer.Length - _written} remain.");
        }

        Span<byte> s = _buffer.Slice(_written, count);
        _written += count;
        return s;
    }
}
