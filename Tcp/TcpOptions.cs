using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;
using Protocols.Wire;

namespace Protocols.Tcp;

/// <summary>
/// The options of one segment as values: what a TCP needs from them (RFC 9293 3.2, RFC 7323,
/// RFC 2018), stored without allocation (SACK blocks live in fixed inline storage).
/// </summary>
/// <remarks>
/// <para><see cref="TryParse"/> validates the region with <see cref="TcpOptionReader"/>. When a
/// kind appears more than once the last occurrence wins (a later SACK option replaces the blocks
/// of an earlier one). Unknown kinds are skipped and counted in <see cref="UnknownOptionCount"/>.
/// A window scale above 14 is kept as received in <see cref="WindowScale"/>, flagged by
/// <see cref="IsWindowScaleOutOfRange"/> and clamped in <see cref="WindowScaleShift"/> (RFC 7323 2.3).</para>
/// <para><see cref="TryWriteTo"/> lays the options out the way Linux does, each 4-byte aligned:
/// MSS; SACK-permitted + timestamps (or NOP, NOP, timestamps); NOP, NOP, SACK-permitted when
/// there are no timestamps; NOP + window scale; NOP, NOP, SACK blocks. A SYN with everything reads
/// <c>mss 1460,sackOK,TS val … ecr 0,nop,wscale 7</c> in tcpdump; without timestamps
/// <c>mss 1460,nop,nop,sackOK,nop,wscale 7</c>.</para>
/// </remarks>
public struct TcpOptions : IEquatable<TcpOptions>
{
    /// <summary>The largest options region: data offset 15 × 4 minus the 20-byte fixed header (RFC 9293 3.1).</summary>
    public const int MaxLength = 40;

    /// <summary>The most SACK blocks one option can carry in 40 bytes (RFC 2018 3); 3 when timestamps are present too.</summary>
    public const int MaxSackBlocks = 4;

    private SackBlockArray _sackBlocks;
    private byte _sackBlockCount;

    /// <summary>The peer's maximum segment size (kind 2, RFC 9293 3.7.1), or null when absent.</summary>
    public ushort? Mss { get; set; }

    /// <summary>The window scale shift count (kind 3, RFC 7323 2.2) as received, possibly above 14; null when absent.</summary>
    public byte? WindowScale { get; set; }

    /// <summary>True when a SACK-permitted option (kind 4, RFC 2018 2) is present.</summary>
    public bool SackPermitted { get; set; }

    /// <summary>The timestamps (kind 8, RFC 7323 3.2), or null when absent.</summary>
    public TcpTimestamps? Timestamps { get; set; }

    /// <summary>Options of kinds this library does not decode that were skipped by <see cref="TryParse"/>.</summary>
    public int UnknownOptionCount { get; set; }

    /// <summary>True when <see cref="WindowScale"/> is above 14 (RFC 7323 2.3: the TCP should log it and use 14).</summary>
    public readonly bool IsWindowScaleOutOfRange => WindowScale > TcpOption.MaxWindowScaleShift;

    /// <summary>The shift count to apply: <see cref="WindowScale"/> clamped to 14 (RFC 7323 2.3), 0 when absent.</summary>
    public readonly int WindowScaleShift => WindowScale is byte ws ? Math.Min(ws, TcpOption.MaxWindowScaleShift) : 0;

    /// <summary>Number of SACK blocks held (0..4).</summary>
    public readonly int SackBlockCount => _sackBlockCount;

    /// <summary>The SACK blocks (kind 5, RFC 2018 3), in the order received.</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<TcpSackBlock> SackBlocks => ((ReadOnlySpan<TcpSackBlock>)_sackBlocks)[.._sackBlockCount];

    /// <summary>Appends a SACK block; false when 4 are already held.</summary>
    public bool TryAddSackBlock(TcpSackBlock block)
    {
        if (_sackBlockCount >= MaxSackBlocks)
        {
            return false;
        }

        _sackBlocks[_sackBlockCount++] = block;
        return true;
    }

    /// <summary>Removes all SACK blocks.</summary>
    public void ClearSackBlocks()
    {
        _sackBlocks = default;
        _sackBlockCount = 0;
    }

    /// <summary>
    /// Parses an options region. Never throws. On failure <paramref name="error"/> is the first
    /// malformed option (see <see cref="TcpOptionReader"/>) and <paramref name="options"/> is default.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> region, out TcpOptions options, out WireError error)
    {
        options = default;
        var result = default(TcpOptions);
        var reader = new TcpOptionReader(region);
        while (reader.TryReadNext(out TcpOption option, out error))
        {
            switch (option.Kind)
            {
                case TcpOptionKind.EndOfOptionList:
                case TcpOptionKind.NoOperation:
                    break;
                case TcpOptionKind.MaximumSegmentSize:
                    result.Mss = option.Mss;
                    break;
                case TcpOptionKind.WindowScale:
                    result.WindowScale = option.WindowScaleShift;
                    break;
                case TcpOptionKind.SackPermitted:
                    result.SackPermitted = true;
                    break;
                case TcpOptionKind.Sack:
                    result.ClearSackBlocks();
                    for (int i = 0; i < option.SackBlockCount; i++)
                    {
                        result.TryAddSackBlock(option.GetSackBlock(i));
                    }

                    break;
                case TcpOptionKind.Timestamps:
                    result.Timestamps = option.Timestamps;
                    break;
                default:
                    result.UnknownOptionCount++;
                    break;
            }
        }

        if (error.IsError)
        {
            return false;
        }

        options = result;
        return true;
    }

    /// <summary>Bytes <see cref="TryWriteTo"/> writes: a multiple of 4 (may exceed <see cref="MaxLength"/>, which then fails).</summary>
    public readonly int GetEncodedLength()
    {
        int length = 0;
        if (Mss.HasValue)
        {
            length += 4;
        }

        if (Timestamps.HasValue)
        {
            length += 12; // SACK-permitted + TS, or NOP NOP TS
        }
        else if (SackPermitted)
        {
            length += 4; // NOP NOP SACK-permitted
        }

        if (WindowScale.HasValue)
        {
            length += 4; // NOP WS
        }

        if (_sackBlockCount > 0)
        {
            length += 4 + (8 * _sackBlockCount); // NOP NOP SACK
        }

        return length;
    }

    /// <summary>
    /// Writes the options in Linux's aligned layout (see remarks). False, writing nothing, when they
    /// need more than <paramref name="destination"/> holds or more than 40 bytes. A window scale above
    /// 14 is written as 14 (RFC 7323 2.3); unknown options are not written.
    /// </summary>
    public readonly bool TryWriteTo(Span<byte> destination, out int written)
    {
        written = 0;
        int length = GetEncodedLength();
        if (length > MaxLength || length > destination.Length)
        {
            return false;
        }

        var w = new TcpOptionWriter(destination[..length]);
        if (Mss is ushort mss)
        {
            w.WriteMss(mss);
        }

        if (Timestamps is TcpTimestamps ts)
        {
            if (SackPermitted)
            {
                w.WriteSackPermitted();
            }
            else
            {
                w.WriteNoOperation();
                w.WriteNoOperation();
            }

            w.WriteTimestamps(ts);
        }

        if (SackPermitted && !Timestamps.HasValue)
        {
            w.WriteNoOperation();
            w.WriteNoOperation();
            w.WriteSackPermitted();
        }

        if (WindowScale.HasValue)
        {
            w.WriteNoOperation();
            w.WriteWindowScale((byte)WindowScaleShift);
        }

        if (_sackBlockCount > 0)
        {
            w.WriteNoOperation();
            w.WriteNoOperation();
            w.WriteSack(SackBlocks);
        }

        written = w.Complete();
        return true;
    }

    /// <inheritdoc/>
    public readonly bool Equals(TcpOptions other) =>
        Mss == other.Mss
        && WindowScale == other.WindowScale
        && SackPermitted == other.SackPermitted
        && Timestamps == other.Timestamps
        && UnknownOptionCount == other.UnknownOptionCount
        && SackBlocks.SequenceEqual(other.SackBlocks);

    /// <inheritdoc/>
    public override readonly bool Equals(object? obj) => obj is TcpOptions other && Equals(other);

    /// <inheritdoc/>
    public override readonly int GetHashCode()
    {
        var hash = default(HashCode);
        hash.Add(Mss);
        hash.Add(WindowScale);
        hash.Add(SackPermitted);
        hash.Add(Timestamps);
        hash.Add(UnknownOptionCount);
        foreach (TcpSackBlock b in SackBlocks)
        {
            hash.Add(b);
        }

        return hash.ToHashCode();
    }

    /// <summary>e.g. <c>mss=1460 sackOK ts(val=1 ecr=0) wscale=7</c>; <c>none</c> when empty.</summary>
    public override readonly string ToString()
    {
        var sb = new StringBuilder();
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (Mss is ushort mss)
        {
            sb.Append(inv, $"mss={mss} ");
        }

        if (SackPermitted)
        {
            sb.Append("sackOK ");
        }

        if (Timestamps is TcpTimestamps ts)
        {
            sb.Append(inv, $"ts({ts}) ");
        }

        if (WindowScale is byte ws)
        {
            sb.Append(inv, $"wscale={ws} ");
        }

        if (_sackBlockCount > 0)
        {
            sb.Append("sack=");
            for (int i = 0; i < _sackBlockCount; i++)
            {
                sb.Append(i == 0 ? "" : ",").Append(_sackBlocks[i].ToString());
            }

            sb.Append(' ');
        }

        if (UnknownOptionCount > 0)
        {
            sb.Append(inv, $"unknown={UnknownOptionCount} ");
        }

        return sb.Length == 0 ? "none" : sb.ToString(0, sb.Length - 1);
    }

    /// <summary>Equality.</summary>
    public static bool operator ==(TcpOptions left, TcpOptions right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(TcpOptions left, TcpOptions right) => !left.Equals(right);

    [InlineArray(MaxSackBlocks)]
    private struct SackBlockArray
    {
        private TcpSackBlock _element0;
    }
}
