using System.Text;
using Protocols.Wire;

namespace Protocols.Tls;

/// <summary>
/// Typed decoders for the extension_data of common extensions. Each validates every length
/// against the extension and returns a <see cref="WireError"/> (Layer "TLS", Field = the RFC
/// field name, Source = <see cref="LengthSource.OptionLength"/>) instead of throwing.
/// <c>baseOffset</c> is where the data starts within the hello body (for error offsets;
/// <see cref="TlsExtension.Offset"/> + 4).
/// </summary>
public static class TlsExtensionDecoder
{
    private const string Layer = TlsCursor.Layer;

    /// <summary>NameType host_name (RFC 6066 3).</summary>
    public const byte HostNameType = 0;

    /// <summary>
    /// server_name in a ClientHello (RFC 6066 3): <c>ServerName server_name_list&lt;1..2^16-1&gt;</c>,
    /// each entry a NameType byte and (for host_name, the only defined type) <c>HostName&lt;1..2^16-1&gt;</c>.
    /// Returns the first host_name, or an empty span when the list names no host. Entries of unknown
    /// name types are skipped assuming the same 16-bit length framing (what deployed servers do);
    /// a second host_name is an error (RFC 6066 3: one name per name_type).
    /// </summary>
    public static bool TryReadServerName(ReadOnlySpan<byte> data, out ReadOnlySpan<byte> hostName, out WireError error, int baseOffset = 0)
    {
        hostName = default;
        var outer = new TlsCursor(data, LengthSource.OptionLength, baseOffset);
        if (!outer.TryReadVector("server_name_list", 2, 1, ushort.MaxValue, out ReadOnlySpan<byte> list, out int listOffset, out error)
            || !outer.EnsureConsumed("server_name", out error))
        {
            return false;
        }

        var cursor = new TlsCursor(list, LengthSource.OptionLength, listOffset);
        bool found = false;
        while (!cursor.IsEmpty)
        {
            int entryOffset = cursor.LayerOffset;
            if (!cursor.TryReadUInt8("name_type", out byte nameType, out error)
                || !cursor.TryReadVector("host_name", 2, 1, ushort.MaxValue, out ReadOnlySpan<byte> name, out _, out error))
            {
                return false;
            }

            if (nameType == HostNameType)
            {
                if (found)
                {
                    // RFC 6066 3: the list MUST NOT contain more than one name of the same type.
                    error = WireError.InvalidValue(Layer, "name_type", 1, 2, entryOffset);
                    return false;
                }

                found = true;
                hostName = name;
            }
        }

        error = default;
        return true;
    }

    /// <summary>
    /// Turns a host_name into a string, checking RFC 6066 3: ASCII, no trailing dot. Bytes outside
    /// printable ASCII (0x21..0x7e) are rejected with <see cref="WireErrorKind.InvalidValue"/>.
    /// </summary>
    public static bool TryGetHostNameString(ReadOnlySpan<byte> hostName, out string? host, out WireError error, int baseOffset = 0)
    {
        host = null;
        if (hostName.IsEmpty)
        {
            error = WireError.LengthTooSmall(Layer, "host_name", 1, 0, LengthSource.OptionLength, baseOffset);
            return false;
        }

        for (int i = 0; i < hostName.Length; i++)
        {
            byte b = hostName[i];
            if (b is < 0x21 or > 0x7e)
            {
                error = WireError.InvalidValue(Layer, "host_name", 0x21, b, baseOffset + i);
                return false;
            }
        }

        if (hostName[^1] == (byte)'.')
        {
            // RFC 6066 3: "The hostname is represented ... without a trailing dot."
            error = WireError.InvalidValue(Layer, "host_name", 0, '.', baseOffset + hostName.Length - 1);
            return false;
        }

        host = Encoding.ASCII.GetString(hostName);
        error = default;
        return true;
    }

    /// <summary>
    /// application_layer_protocol_negotiation (RFC 7301 3.1): <c>ProtocolName protocol_name_list&lt;2..2^16-1&gt;</c>,
    /// each <c>opaque ProtocolName&lt;1..2^8-1&gt;</c>. The same form is used by client and server
    /// (the server's list holds exactly one name; see <see cref="TryReadSelectedAlpn"/>).
    /// </summary>
    public static bool TryReadAlpn(ReadOnlySpan<byte> data, out TlsAlpnList protocols, out WireError error, int baseOffset = 0)
    {
        protocols = default;
        var outer = new TlsCursor(data, LengthSource.OptionLength, baseOffset);
        if (!outer.TryReadVector("protocol_name_list", 2, 2, ushort.MaxValue, out ReadOnlySpan<byte> list, out int listOffset, out error)
            || !outer.EnsureConsumed("application_layer_protocol_negotiation", out error))
        {
            return false;
        }

        var cursor = new TlsCursor(list, LengthSource.OptionLength, listOffset);
        int count = 0;
        while (!cursor.IsEmpty)
        {
            if (!cursor.TryReadVector("protocol_name", 1, 1, byte.MaxValue, out _, out _, out error))
            {
                return false;
            }

            count++;
        }

        protocols = new TlsAlpnList(list, count);
        error = default;
        return true;
    }

    /// <summary>ALPN in a ServerHello/EncryptedExtensions: the list must hold exactly one name (RFC 7301 3.1).</summary>
    public static bool TryReadSelectedAlpn(ReadOnlySpan<byte> data, out ReadOnlySpan<byte> protocol, out WireError error, int baseOffset = 0)
    {
        protocol = default;
        if (!TryReadAlpn(data, out TlsAlpnList list, out error, baseOffset))
        {
            return false;
        }

        if (list.Count != 1)
        {
            error = WireError.InvalidValue(Layer, "protocol_name_list", 1, list.Count, baseOffset);
            return false;
        }

        foreach (ReadOnlySpan<byte> name in list)
        {
            protocol = name;
        }

        return true;
    }

    /// <summary>supported_versions in a ClientHello (RFC 8446 4.2.1): <c>ProtocolVersion versions&lt;2..254&gt;</c>.</summary>
    public static bool TryReadSupportedVersions(ReadOnlySpan<byte> data, out TlsUInt16List<TlsVersion> versions, out WireError error, int baseOffset = 0)
        => TryReadUInt16List(data, "versions", "supported_versions", 1, 2, 254, out versions, out error, baseOffset);

    /// <summary>supported_versions in a ServerHello or HelloRetryRequest (RFC 8446 4.2.1): one <c>ProtocolVersion selected_version</c>.</summary>
    public static bool TryReadSelectedVersion(ReadOnlySpan<byte> data, out TlsVersion version, out WireError error, int baseOffset = 0)
    {
        version = default;
        var cursor = new TlsCursor(data, LengthSource.OptionLength, baseOffset);
        if (!cursor.TryReadUInt16("selected_version", out ushort raw, out error)
            || !cursor.EnsureConsumed("supported_versions", out error))
        {
            return false;
        }

        version = (TlsVersion)raw;
        return true;
    }

    /// <summary>supported_groups (RFC 8446 4.2.7): <c>NamedGroup named_group_list&lt;2..2^16-1&gt;</c>.</summary>
    public static bool TryReadSupportedGroups(ReadOnlySpan<byte> data, out TlsUInt16List<TlsNamedGroup> groups, out WireError error, int baseOffset = 0)
        => TryReadUInt16List(data, "named_group_list", "supported_groups", 2, 2, ushort.MaxValue, out groups, out error, baseOffset);

    /// <summary>signature_algorithms / signature_algorithms_cert (RFC 8446 4.2.3): <c>SignatureScheme supported_signature_algorithms&lt;2..2^16-2&gt;</c>.</summary>
    public static bool TryReadSignatureAlgorithms(ReadOnlySpan<byte> data, out TlsUInt16List<TlsSignatureScheme> schemes, out WireError error, int baseOffset = 0)
        => TryReadUInt16List(data, "supported_signature_algorithms", "signature_algorithms", 2, 2, ushort.MaxValue - 1, out schemes, out error, baseOffset);

    /// <summary>
    /// key_share in a ClientHello (RFC 8446 4.2.8): <c>KeyShareEntry client_shares&lt;0..2^16-1&gt;</c>,
    /// each a NamedGroup and <c>opaque key_exchange&lt;1..2^16-1&gt;</c>; a group may appear once.
    /// </summary>
    public static bool TryReadClientKeyShares(ReadOnlySpan<byte> data, out TlsKeyShareList shares, out WireError error, int baseOffset = 0)
    {
        shares = default;
        var outer = new TlsCursor(data, LengthSource.OptionLength, baseOffset);
        if (!outer.TryReadVector("client_shares", 2, 0, ushort.MaxValue, out ReadOnlySpan<byte> list, out int listOffset, out error)
            || !outer.EnsureConsumed("key_share", out error))
        {
            return false;
        }

        Span<ulong> seen = stackalloc ulong[65536 / 64];
        seen.Clear();
        var cursor = new TlsCursor(list, LengthSource.OptionLength, listOffset);
        int count = 0;
        while (!cursor.IsEmpty)
        {
            int entryOffset = cursor.LayerOffset;
            if (!cursor.TryReadUInt16("group", out ushort group, out error)
                || !cursor.TryReadVector("key_exchange", 2, 1, ushort.MaxValue, out _, out _, out error))
            {
                return false;
            }

            // RFC 8446 4.2.8: clients MUST NOT offer multiple KeyShareEntry values for the same group.
            ref ulong word = ref seen[group >> 6];
            ulong bit = 1UL << (group & 63);
            if ((word & bit) != 0)
            {
                error = WireError.InvalidValue(Layer, "group", 1, 2, entryOffset);
                return false;
            }

            word |= bit;
            count++;
        }

        shares = new TlsKeyShareList(list, count);
        error = default;
        return true;
    }

    /// <summary>key_share in a ServerHello (RFC 8446 4.2.8): a single <c>KeyShareEntry server_share</c>.</summary>
    public static bool TryReadServerKeyShare(ReadOnlySpan<byte> data, out TlsKeyShareEntry share, out WireError error, int baseOffset = 0)
    {
        share = default;
        var cursor = new TlsCursor(data, LengthSource.OptionLength, baseOffset);
        if (!cursor.TryReadUInt16("group", out ushort group, out error)
            || !cursor.TryReadVector("key_exchange", 2, 1, ushort.MaxValue, out ReadOnlySpan<byte> key, out _, out error)
            || !cursor.EnsureConsumed("key_share", out error))
        {
            return false;
        }

        share = new TlsKeyShareEntry((TlsNamedGroup)group, key);
        return true;
    }

    /// <summary>key_share in a HelloRetryRequest (RFC 8446 4.2.8): one <c>NamedGroup selected_group</c>.</summary>
    public static bool TryReadHelloRetryKeyShare(ReadOnlySpan<byte> data, out TlsNamedGroup group, out WireError error, int baseOffset = 0)
    {
        group = default;
        var cursor = new TlsCursor(data, LengthSource.OptionLength, baseOffset);
        if (!cursor.TryReadUInt16("selected_group", out ushort raw, out error)
            || !cursor.EnsureConsumed("key_share", out error))
        {
            return false;
        }

        group = (TlsNamedGroup)raw;
        return true;
    }

    /// <summary>A list of 16-bit values with a <paramref name="prefixBytes"/>-byte length prefix; the byte length must be even.</summary>
    internal static bool TryReadUInt16List<T>(ReadOnlySpan<byte> data, string field, string extension, int prefixBytes, int min, int max, out TlsUInt16List<T> list, out WireError error, int baseOffset)
        where T : unmanaged, Enum
    {
        list = default;
        var cursor = new TlsCursor(data, LengthSource.OptionLength, baseOffset);
        if (!cursor.TryReadVector(field, prefixBytes, min, max, out ReadOnlySpan<byte> body, out _, out error)
            || !cursor.EnsureConsumed(extension, out error))
        {
            return false;
        }

        if (!CheckEven(field, body.Length, baseOffset, out error))
        {
            return false;
        }

        list = new TlsUInt16List<T>(body);
        return true;
    }

    /// <summary>A vector of 16-bit entries must have an even byte length.</summary>
    internal static bool CheckEven(string field, int length, int offset, out WireError error)
    {
        if ((length & 1) != 0)
        {
            error = WireError.Malformed(Layer, field, length + 1, length, LengthSource.OptionLength, offset);
            return false;
        }

        error = default;
        return true;
    }
}
