using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace Protocols.Tls;

/// <summary>
/// A validated list of 16-bit code points (cipher suites, versions, groups, signature schemes),
/// viewed in place. Created by the decoders; enumerating it cannot fail.
/// </summary>
/// <typeparam name="T">An enum whose underlying type is <see cref="ushort"/>.</typeparam>
public readonly ref struct TlsUInt16List<T>
    where T : unmanaged, Enum
{
    private readonly ReadOnlySpan<byte> _bytes;

    internal TlsUInt16List(ReadOnlySpan<byte> bytes)
    {
        if (Unsafe.SizeOf<T>() != sizeof(ushort) || (bytes.Length & 1) != 0)
        {
            // Only reachable through a programming error inside this assembly, never from input.
            throw new InvalidOperationException("TlsUInt16List needs a ushort enum and an even byte count.");
        }

        _bytes = bytes;
    }

    /// <summary>The list's bytes, without the length prefix.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>Number of entries.</summary>
    public int Count => _bytes.Length / 2;

    /// <summary>The entry at <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">index is outside [0, Count).</exception>
    public T this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            ushort raw = BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(index * 2));
            return Unsafe.As<ushort, T>(ref raw);
        }
    }

    /// <summary>True when <paramref name="value"/> is in the list.</summary>
    public bool Contains(T value)
    {
        foreach (T v in this)
        {
            if (EqualityComparer<T>.Default.Equals(v, value))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Copies the entries to an array.</summary>
    public T[] ToArray()
    {
        var result = new T[Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = this[i];
        }

        return result;
    }

    /// <summary>Enumerates the entries in wire order.</summary>
    public Enumerator GetEnumerator() => new(_bytes);

    /// <summary>Walks the entries.</summary>
    public ref struct Enumerator
    {
        private readonly ReadOnlySpan<byte> _bytes;
        private int _next;
        private T _current;

        internal Enumerator(ReadOnlySpan<byte> bytes)
        {
            _bytes = bytes;
            _next = 0;
            _current = default;
        }

        /// <summary>The current entry.</summary>
        public readonly T Current => _current;

        /// <summary>Advances to the next entry.</summary>
        public bool MoveNext()
        {
            if (_next + 2 > _bytes.Length)
            {
                return false;
            }

            ushort raw = BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(_next));
            _current = Unsafe.As<ushort, T>(ref raw);
            _next += 2;
            return true;
        }
    }
}

/// <summary>A validated ALPN protocol_name_list (RFC 7301 3.1), viewed in place.</summary>
public readonly ref struct TlsAlpnList
{
    private readonly ReadOnlySpan<byte> _bytes;

    internal TlsAlpnList(ReadOnlySpan<byte> bytes, int count)
    {
        _bytes = bytes;
        Count = count;
    }

    /// <summary>The list's bytes, without its 2-byte length prefix.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>Number of protocol names.</summary>
    public int Count { get; }

    /// <summary>The protocol names decoded as UTF-8 (IANA-registered names are ASCII: "h2", "http/1.1").</summary>
    public string[] ToStrings()
    {
        var result = new string[Count];
        int i = 0;
        foreach (ReadOnlySpan<byte> name in this)
        {
            result[i++] = Encoding.UTF8.GetString(name);
        }

        return result;
    }

    /// <summary>True when <paramref name="protocol"/> (e.g. <c>"h2"u8</c>) is offered.</summary>
    public bool Contains(ReadOnlySpan<byte> protocol)
    {
        foreach (ReadOnlySpan<byte> name in this)
        {
            if (name.SequenceEqual(protocol))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Enumerates the protocol names as byte spans.</summary>
    public Enumerator GetEnumerator() => new(_bytes);

    /// <summary>Walks the protocol names.</summary>
    public ref struct Enumerator
    {
        private readonly ReadOnlySpan<byte> _bytes;
        private int _next;
        private ReadOnlySpan<byte> _current;

        internal Enumerator(ReadOnlySpan<byte> bytes)
        {
            _bytes = bytes;
            _next = 0;
            _current = default;
        }

        /// <summary>The current protocol name.</summary>
        public readonly ReadOnlySpan<byte> Current => _current;

        /// <summary>Advances to the next name.</summary>
        public bool MoveNext()
        {
            if (_next >= _bytes.Length || _next + 1 + _bytes[_next] > _bytes.Length)
            {
                return false;
            }

            int length = _bytes[_next];
            _current = _bytes.Slice(_next + 1, length);
            _next += 1 + length;
            return true;
        }
    }
}

/// <summary>One KeyShareEntry (RFC 8446 4.2.8): a named group and its key_exchange bytes.</summary>
public readonly ref struct TlsKeyShareEntry
{
    /// <summary>Creates a view of one entry.</summary>
    public TlsKeyShareEntry(TlsNamedGroup group, ReadOnlySpan<byte> keyExchange)
    {
        Group = group;
        KeyExchange = keyExchange;
    }

    /// <summary>The group.</summary>
    public TlsNamedGroup Group { get; }

    /// <summary>The key_exchange bytes (a public key share).</summary>
    public ReadOnlySpan<byte> KeyExchange { get; }
}

/// <summary>A validated client_shares list of a ClientHello key_share extension (RFC 8446 4.2.8).</summary>
public readonly ref struct TlsKeyShareList
{
    private readonly ReadOnlySpan<byte> _bytes;

    internal TlsKeyShareList(ReadOnlySpan<byte> bytes, int count)
    {
        _bytes = bytes;
        Count = count;
    }

    /// <summary>Number of entries (0 is legal: the client asks the server to pick, RFC 8446 4.2.8).</summary>
    public int Count { get; }

    /// <summary>Enumerates the entries.</summary>
    public Enumerator GetEnumerator() => new(_bytes);

    /// <summary>Walks the entries.</summary>
    public ref struct Enumerator
    {
        private readonly ReadOnlySpan<byte> _bytes;
        private int _next;
        private TlsKeyShareEntry _current;

        internal Enumerator(ReadOnlySpan<byte> bytes)
        {
            _bytes = bytes;
            _next = 0;
            _current = default;
        }

        /// <summary>The current entry.</summary>
        public readonly TlsKeyShareEntry Current => _current;

        /// <summary>Advances to the next entry.</summary>
        public bool MoveNext()
        {
            if (_next + 4 > _bytes.Length)
            {
                return false;
            }

            ushort group = BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(_next));
            int length = BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(_next + 2));
            if (_next + 4 + length > _bytes.Length)
            {
                return false;
            }

            _current = new TlsKeyShareEntry((TlsNamedGroup)group, _bytes.Slice(_next + 4, length));
            _next += 4 + length;
            return true;
        }
    }
}
