using Protocols.Wire;

namespace Protocols.Ip.Fragmentation;

/// <summary>
/// Splits an IPv6 packet into fragments that fit a path MTU (RFC 8200 4.5), sans-IO: a cursor that
/// writes one complete packet at a time into a buffer the caller provides. Only the source
/// fragments in IPv6 (RFC 8200 5).
/// </summary>
/// <remarks>
/// <para>The original packet is the template header, the unfragmentable
/// extension headers (Hop-by-Hop, Routing, and Destination Options before a Routing header; the
/// caller's bytes, whose last Next Header must name the upper layer) and the fragmentable part.
/// Each fragment repeats the unfragmentable part, with the Next Header byte that named the
/// fragmentable part rewritten to 44 (Fragment), then a Fragment header naming the original next
/// header, with the offset, the M flag and the packet's identification, then a chunk of data: a
/// multiple of 8 bytes in all but the last fragment.</para>
/// <para>A packet that fits the MTU is written as it is, without a Fragment header (RFC 8021:
/// atomic fragments are not generated). Nothing is allocated; only a too-small destination (a
/// caller bug) throws.</para>
/// </remarks>
public ref struct Ipv6Fragmenter
{
    private Ipv6Header _template;
    private ReadOnlySpan<byte> _unfragmentable;
    private ReadOnlySpan<byte> _payload;
    private IpProtocol _fragmentableNext;
    private int _nextHeaderField;
    private uint _identification;
    private int _chunk;
    private int _position;
    private int _index;

    /// <summary>The number of packets (1 when the packet fits the MTU).</summary>
    public int FragmentCount { get; private set; }

    /// <summary>The number of packets not yet written.</summary>
    public readonly int Remaining => FragmentCount - _index;

    /// <summary>
    /// Prepares to fragment: <paramref name="template"/> gives the fixed header (its
    /// PayloadLength is ignored), <paramref name="unfragmentable"/> the extension headers that every
    /// fragment repeats, <paramref name="payload"/> the fragmentable part.
    /// </summary>
    /// <param name="template">The header; its NextHeader names the first unfragmentable extension header, or the fragmentable part when there is none.</param>
    /// <param name="unfragmentable">Extension headers repeated in every fragment (usually empty).</param>
    /// <param name="payload">The fragmentable part.</param>
    /// <param name="mtu">The path MTU: at least 1280 (RFC 8200 5).</param>
    /// <param name="identification">The Fragment header's identification (RFC 7739: unpredictable).</param>
    /// <param name="fragmenter">On success, the cursor.</param>
    /// <returns><see cref="FragmentationStatus.Success"/>, or why the packet cannot be sent.</returns>
    public static FragmentationStatus TryCreate(scoped in Ipv6Header template, ReadOnlySpan<byte> unfragmentable, ReadOnlySpan<byte> payload, int mtu, uint identification, out Ipv6Fragmenter fragmenter)
    {
        fragmenter = default;
        if (mtu < Ipv6Packet.MinimumMtu)
        {
            return FragmentationStatus.MtuTooSmall;
        }

        if (unfragmentable.Length + payload.Length > ushort.MaxValue)
        {
            return FragmentationStatus.DatagramTooLarge;
        }

        // The Next Header byte naming the fragmentable part: the fixed header's, or the last unfragmentable extension header's.
        int field = 6;
        IpProtocol next = template.NextHeader;
        int offset = 0;
        while (offset < unfragmentable.Length)
        {
            if (unfragmentable.Length - offset < 8)
            {
                return FragmentationStatus.Malformed;
            }

            field = Ipv6Header.FixedLength + offset;
            next = (IpProtocol)unfragmentable[offset];
            offset += (unfragmentable[offset + 1] + 1) * 8;
        }

        if (offset != unfragmentable.Length)
        {
            return FragmentationStatus.Malformed;
        }

        int whole = Ipv6Header.FixedLength + unfragmentable.Length + payload.Length;
        int perFragment = Ipv6Header.FixedLength + unfragmentable.Length + Ipv6FragmentHeader.FixedLength;
        int chunk = (Math.Min(mtu, ushort.MaxValue) - perFragment) & ~7;
        if (whole > mtu && chunk < 8)
        {
            return FragmentationStatus.MtuTooSmall;
        }

        fragmenter = new Ipv6Fragmenter
        {
            _template = template,
            _unfragmentable = unfragmentable,
            _payload = payload,
            _fragmentableNext = next,
            _nextHeaderField = field,
            _identification = identification,
            _chunk = whole > mtu ? chunk : 0,
            FragmentCount = whole > mtu ? (payload.Length + chunk - 1) / chunk : 1,
        };
        return FragmentationStatus.Success;
    }

    /// <summary>Writes the next packet into <paramref name="destination"/>.</summary>
    /// <param name="destination">At least MTU bytes.</param>
    /// <param name="written">The packet's length.</param>
    /// <returns>False when every packet has been written.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small.</exception>
    public bool TryWriteNext(scoped Span<byte> destination, out int written)
    {
        written = 0;
        if (_index >= FragmentCount)
        {
            return false;
        }

        if (_chunk == 0)
        {
            // Fits: the packet as it is.
            written = Ipv6Packet.Write(destination, _template, _unfragmentable, _payload);
            _index++;
            return true;
        }

        int length = Math.Min(_chunk, _payload.Length - _position);
        bool more = _position + length < _payload.Length;
        int fragmentHeaderAt = Ipv6Header.FixedLength + _unfragmentable.Length;
        int total = fragmentHeaderAt + Ipv6FragmentHeader.FixedLength + length;
        if (destination.Length < total)
        {
            throw new ArgumentException($"The fragment needs {total} bytes; the destination has {destination.Length}.", nameof(destination));
        }

        Ipv6Header header = _template;
        header.PayloadLength = (ushort)(total - Ipv6Header.FixedLength);
        if (_nextHeaderField == 6)
        {
            header.NextHeader = IpProtocol.Ipv6Fragment;
        }

        header.WriteTo(destination);
        _unfragmentable.CopyTo(destination[Ipv6Header.FixedLength..]);
        if (_nextHeaderField != 6)
        {
            destination[_nextHeaderField] = (byte)IpProtocol.Ipv6Fragment;
        }

        new Ipv6FragmentHeader
        {
            NextHeader = _fragmentableNext,
            FragmentOffset = (ushort)(_position / 8),
            MoreFragments = more,
            Identification = _identification,
        }.WriteTo(destination[fragmentHeaderAt..]);
        _payload.Slice(_position, length).CopyTo(destination[(fragmentHeaderAt + Ipv6FragmentHeader.FixedLength)..]);
        _position += length;
        _index++;
        written = total;
        return true;
    }
}
