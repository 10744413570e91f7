using System.Buffers;
using System.Runtime.CompilerServices;

namespace Protocols.Ip.Fragmentation;

/// <summary>What <see cref="Ipv4Fragmenter"/> decided about a datagram.</summary>
public enum FragmentationStatus
{
    /// <summary>The datagram can be sent: as one packet when it fits the MTU, else as fragments.</summary>
    Success = 0,

    /// <summary>The datagram does not fit the MTU and has DF set (RFC 791 3.2, RFC 1191: the sender learns the MTU).</summary>
    MessageTooBig,

    /// <summary>Header and payload together exceed 65535 bytes (RFC 791 3.1: the total length is 16 bits).</summary>
    DatagramTooLarge,

    /// <summary>The MTU is below 68, the size every IPv4 module must forward unfragmented (RFC 791 3.2).</summary>
    MtuTooSmall,

    /// <summary>The options are longer than 40 bytes, or malformed so the copied flags cannot be read while fragmenting.</summary>
    InvalidOptions,

    /// <summary>The bytes given as a datagram are not a valid IPv4 header and payload.</summary>
    Malformed,
}

/// <summary>The outcome of <see cref="Ipv4Fragmenter.Fragment(in Ipv4Header, ReadOnlySpan{byte}, ReadOnlySpan{byte}, int, FragmentWriter)"/>.</summary>
/// <param name="Status">Success, or why nothing was written.</param>
/// <param name="FragmentCount">Packets written (1 when the datagram fit; 0 on failure).</param>
/// <param name="Mtu">The MTU the datagram was measured against (for <see cref="FragmentationStatus.MessageTooBig"/>: the MTU to report).</param>
public readonly record struct FragmentationResult(FragmentationStatus Status, int FragmentCount, int Mtu)
{
    /// <summary>True when the datagram was written.</summary>
    public bool IsSuccess => Status == FragmentationStatus.Success;
}

/// <summary>Receives one finished packet (an IPv4 header with checksum, and its payload slice). The span is valid only during the call.</summary>
public delegate void FragmentWriter(ReadOnlySpan<byte> packet);

/// <summary>Receives one finished packet and the caller's state (lets a caller pass a static lambda and avoid a closure). The span is valid only during the call.</summary>
public delegate void FragmentWriter<TState>(ReadOnlySpan<byte> packet, TState state);

/// <summary>
/// Splits an IPv4 datagram into fragments that fit an MTU (RFC 791 3.2, "Fragmentation"), sans-IO:
/// a cursor that writes one packet at a time into a buffer the caller provides.
/// </summary>
/// <remarks>
/// <para>Create it with <see cref="TryCreate"/> (header fields + options + payload) or
/// <see cref="TryCreateFromDatagram"/> (re-fragment existing datagram or fragment bytes), then call
/// <see cref="TryWriteNext"/> until it returns false. Each packet is a complete IPv4 packet: IHL,
/// total length, MF, fragment offset and header checksum are filled; the other header fields are
/// copied from the template.</para>
/// <para>Rules: the first fragment carries all options; later fragments carry only options with
/// the copied flag (RFC 791 3.1), compacted and padded with End of Option List to a 32-bit
/// boundary. Every fragment's payload but the last is a multiple of 8 bytes (offsets count 8-byte
/// units). The template's own FragmentOffset and MoreFragments describe where the bytes sit in
/// the original datagram: offsets are added to it, and the last piece keeps the template's MF,
/// so re-fragmenting a fragment keeps its meaning (RFC 791 3.2).</para>
/// <para>Nothing is allocated. Malformed options or sizes give a status, never an exception;
/// only a too-small destination buffer (a caller bug) throws.</para>
/// </remarks>
public ref struct Ipv4Fragmenter
{
    /// <summary>RFC 791 3.2: every internet module must be able to forward a datagram of 68 octets without further fragmentation.</summary>
    public const int MinimumMtu = 68;

    /// <summary>The largest IPv4 datagram: the total length field is 16 bits (RFC 791 3.1).</summary>
    public const int MaxDatagramLength = ushort.MaxValue;

    private const int FixedHeader = Ipv4Header.FixedLength;

    private Ipv4Header _template;
    private ReadOnlySpan<byte> _options;
    private ReadOnlySpan<byte> _payload;
    private CopiedOptions _copied;
    private int _copiedLength;
    private int _firstHeaderLength;
    private int _laterHeaderLength;
    private int _firstChunk;
    private int _laterChunk;
    private int _baseOffset;
    private bool _lastMoreFragments;
    private int _position;
    private int _index;

    /// <summary>The number of packets this datagram becomes (1 when it fits the MTU).</summary>
    public int FragmentCount { get; private set; }

    /// <summary>The MTU (capped at 65535) the fragments are cut to.</summary>
    public int Mtu { get; private set; }

    /// <summary>The number of packets not yet written.</summary>
    public readonly int Remaining => FragmentCount - _index;

    /// <summary>The size of the next packet <see cref="TryWriteNext"/> will write (0 when done).</summary>
    public readonly int NextLength => _index >= FragmentCount ? 0 : HeaderLengthOf(_index) + ChunkOf(_index);

    /// <summary>
    /// Prepares to fragment a datagram made of <paramref name="header"/>'s fields,
    /// <paramref name="options"/> (zero-padded to a 32-bit boundary) and <paramref name="payload"/>.
    /// </summary>
    /// <param name="header">The template: Dscp, Ecn, Identification, Reserved, DontFragment, Ttl, Protocol, Source,
    /// Destination are copied into every packet; FragmentOffset and MoreFragments give this datagram's place in an
    /// original one (0 and false for a new datagram). Ihl, TotalLength and HeaderChecksum are ignored.</param>
    /// <param name="options">The options region (at most 40 bytes).</param>
    /// <param name="payload">The data after the header.</param>
    /// <param name="mtu">The largest packet the link carries, header included (at least 68).</param>
    /// <param name="fragmenter">On success, the cursor; else an empty one.</param>
    /// <returns><see cref="FragmentationStatus.Success"/> or why the datagram cannot be sent.</returns>
    public static FragmentationStatus TryCreate(scoped in Ipv4Header header, ReadOnlySpan<byte> options, ReadOnlySpan<byte> payload, int mtu, out Ipv4Fragmenter fragmenter)
    {
        fragmenter = default;
        if (mtu < MinimumMtu)
        {
            return FragmentationStatus.MtuTooSmall;
        }

        mtu = Math.Min(mtu, MaxDatagramLength);
        int paddedOptions = (options.Length + 3) & ~3;
        if (paddedOptions > Ipv4OptionWriter.MaxOptionsLength)
        {
            return FragmentationStatus.InvalidOptions;
        }

        int firstHeaderLength = FixedHeader + paddedOptions;
        int baseOffset = header.FragmentOffset * 8;

        // RFC 791 3.1: the total length is 16 bits; the original datagram this piece belongs to
        // must fit it as well (offset + data + a header).
        if ((long)firstHeaderLength + baseOffset + payload.Length > MaxDatagramLength)
        {
            return FragmentationStatus.DatagramTooLarge;
        }

        var f = new Ipv4Fragmenter
        {
            _template = header,
            _options = options,
            _payload = payload,
            _firstHeaderLength = firstHeaderLength,
            _baseOffset = baseOffset,
            _lastMoreFragments = header.MoreFragments,
            Mtu = mtu,
        };

        if (firstHeaderLength + payload.Length <= mtu)
        {
            // Fits: one packet, offset and MF as the template says.
            f._firstChunk = payload.Length;
            f._laterHeaderLength = firstHeaderLength;
            f.FragmentCount = 1;
            fragmenter = f;
            return FragmentationStatus.Success;
        }

        // RFC 791 3.2: "If the Don't Fragment flag is set, then internet fragmentation of this
        // datagram is NOT permitted" - the datagram is discarded and the sender told the MTU.
        if (header.DontFragment)
        {
            fragmenter = new Ipv4Fragmenter { Mtu = mtu };
            return FragmentationStatus.MessageTooBig;
        }

        // RFC 791 3.1: options with the copied flag go into every fragment, the rest only into the first.
        if (!f.CollectCopiedOptions())
        {
            return FragmentationStatus.InvalidOptions;
        }

        f._laterHeaderLength = FixedHeader + f._copiedLength;

        // RFC 791 3.2: NFB = (MTU - IHL*4) / 8; each fragment but the last carries NFB*8 bytes.
        // With MTU >= 68 and a header <= 60 bytes, NFB >= 1.
        f._firstChunk = (mtu - firstHeaderLength) & ~7;
        f._laterChunk = (mtu - f._laterHeaderLength) & ~7;
        int rest = payload.Length - f._firstChunk;
        f.FragmentCount = 1 + ((rest + f._laterChunk - 1) / f._laterChunk);
        fragmenter = f;
        return FragmentationStatus.Success;
    }

    /// <summary>
    /// Prepares to fragment an existing IPv4 datagram or fragment (header, options and payload as
    /// on the wire). Its FragmentOffset and MF are kept: offsets are added to them and the last
    /// piece keeps its MF flag.
    /// </summary>
    /// <param name="datagram">The packet bytes (trimmed by its total length).</param>
    /// <param name="mtu">The largest packet the link carries (at least 68).</param>
    /// <param name="fragmenter">On success, the cursor.</param>
    /// <returns><see cref="FragmentationStatus.Success"/>, <see cref="FragmentationStatus.Malformed"/> when the bytes are not a valid IPv4 packet, or another failure.</returns>
    public static FragmentationStatus TryCreateFromDatagram(ReadOnlySpan<byte> datagram, int mtu, out Ipv4Fragmenter fragmenter)
    {
        if (!Ipv4Header.TryRead(datagram, out Ipv4Header.Reader reader, out _))
        {
            fragmenter = default;
            return FragmentationStatus.Malformed;
        }

        Ipv4Header header = reader.ToValue();
        return TryCreate(header, reader.Options, reader.Payload, mtu, out fragmenter);
    }

    /// <summary>
    /// Writes the next packet into <paramref name="destination"/>. Returns false when every
    /// packet has been written.
    /// </summary>
    /// <param name="destination">At least <see cref="NextLength"/> bytes (an MTU-sized buffer always suffices).</param>
    /// <param name="written">The packet's length.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="NextLength"/>.</exception>
    public bool TryWriteNext(Span<byte> destination, out int written)
    {
        written = 0;
        if (_index >= FragmentCount)
        {
            return false;
        }

        int headerLength = HeaderLengthOf(_index);
        int chunk = ChunkOf(_index);
        int total = headerLength + chunk;
        if (destination.Length < total)
        {
            throw new ArgumentException($"The fragment needs {total} bytes; the destination has {destination.Length}.", nameof(destination));
        }

        bool last = _index == FragmentCount - 1;
        Ipv4Header h = _template;

        // RFC 791 3.2: MF on every fragment but the last; the last keeps the original MF.
        h.MoreFragments = !last || _lastMoreFragments;
        h.FragmentOffset = (ushort)((_baseOffset + _position) / 8);

        // Ipv4Packet.Write pads the options to headerLength (End of Option List, RFC 791 3.1),
        // fills IHL, total length and the checksum.
        ReadOnlySpan<byte> options = _index == 0 ? _options : ((ReadOnlySpan<byte>)_copied)[.._copiedLength];
        Ipv4Packet.Write(destination, h, options, _payload.Slice(_position, chunk));

        _position += chunk;
        _index++;
        written = total;
        return true;
    }

    /// <summary>
    /// Fragments a datagram and hands each packet to <paramref name="writer"/>, using a pooled
    /// scratch buffer of one MTU.
    /// </summary>
    /// <param name="header">The template (see <see cref="TryCreate"/>).</param>
    /// <param name="options">The options region (at most 40 bytes).</param>
    /// <param name="payload">The data after the header.</param>
    /// <param name="mtu">The link MTU (at least 68).</param>
    /// <param name="writer">Receives each packet; the span is only valid during the call.</param>
    /// <returns>The status, the number of packets written and the MTU.</returns>
    public static FragmentationResult Fragment(in Ipv4Header header, ReadOnlySpan<byte> options, ReadOnlySpan<byte> payload, int mtu, FragmentWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        return Fragment(header, options, payload, mtu, writer, static (packet, w) => w(packet));
    }

    /// <summary>
    /// Fragments a datagram and hands each packet with <paramref name="state"/> to
    /// <paramref name="writer"/> (a static lambda then allocates nothing), using a pooled scratch
    /// buffer of one MTU.
    /// </summary>
    /// <typeparam name="TState">The caller's state.</typeparam>
    /// <param name="header">The template (see <see cref="TryCreate"/>).</param>
    /// <param name="options">The options region (at most 40 bytes).</param>
    /// <param name="payload">The data after the header.</param>
    /// <param name="mtu">The link MTU (at least 68).</param>
    /// <param name="state">Passed to every call of <paramref name="writer"/>.</param>
    /// <param name="writer">Receives each packet; the span is only valid during the call.</param>
    /// <returns>The status, the number of packets written and the MTU.</returns>
    public static FragmentationResult Fragment<TState>(in Ipv4Header header, ReadOnlySpan<byte> options, ReadOnlySpan<byte> payload, int mtu, TState state, FragmentWriter<TState> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        FragmentationStatus status = TryCreate(header, options, payload, mtu, out Ipv4Fragmenter f);
        if (status != FragmentationStatus.Success)
        {
            return new FragmentationResult(status, 0, f.Mtu == 0 ? mtu : f.Mtu);
        }

        byte[] scratch = ArrayPool<byte>.Shared.Rent(Math.Min(f.Mtu, f._firstHeaderLength + payload.Length));
        try
        {
            int count = 0;
            while (f.TryWriteNext(scratch, out int written))
            {
                writer(scratch.AsSpan(0, written), state);
                count++;
            }

            return new FragmentationResult(FragmentationStatus.Success, count, f.Mtu);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private readonly int HeaderLengthOf(int index) => index == 0 ? _firstHeaderLength : _laterHeaderLength;

    private readonly int ChunkOf(int index)
    {
        if (FragmentCount == 1)
        {
            return _payload.Length;
        }

        if (index == 0)
        {
            return _firstChunk;
        }

        int start = _firstChunk + ((index - 1) * _laterChunk);
        return Math.Min(_laterChunk, _payload.Length - start);
    }

    // Walks the options and keeps those with the copied flag (RFC 791 3.1), padded to a word.
    private bool CollectCopiedOptions()
    {
        Span<byte> copied = _copied;
        int length = 0;
        var reader = new Ipv4OptionReader(_options);
        while (reader.TryReadNext(out Ipv4Option option, out _))
        {
            if (option.Copied)
            {
                option.Bytes.CopyTo(copied[length..]);
                length += option.Length;
            }
        }

        if (reader.Error.IsError)
        {
            return false;
        }

        int padded = (length + 3) & ~3;
        copied[length..padded].Clear();
        _copiedLength = padded;
        return true;
    }

    [InlineArray(Ipv4OptionWriter.MaxOptionsLength)]
    private struct CopiedOptions
    {
        private byte _element0;
    }
}
