using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Protocols.Wire;

namespace Protocols.Tls;

/// <summary>
/// Hex-dump annotations for TLS hellos: one per field and one per extension, with decoded values
/// (for <see cref="HexDump.Annotated"/>, golden snapshots and traces). Invalid input yields
/// annotations up to the first error and never throws.
/// </summary>
public static class TlsAnnotations
{
    /// <summary>Annotates a ClientHello body (after the handshake header) starting at <paramref name="baseOffset"/> in the dump.</summary>
    public static void AnnotateClientHello(ReadOnlySpan<byte> body, int baseOffset, ICollection<HexAnnotation> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (!ClientHelloReader.TryRead(body, out ClientHelloReader hello, out WireError error))
        {
            into.Add(new HexAnnotation(baseOffset, Math.Max(body.Length, 1), "ClientHello (invalid: " + error + ")"));
            return;
        }

        int o = AnnotatePrefix(body, baseOffset, into, "random");
        o = AnnotateVector(into, baseOffset, o, 1, hello.LegacySessionId.Length, $"legacy_session_id length={hello.LegacySessionId.Length}");
        var suites = new StringBuilder();
        foreach (TlsCipherSuite s in hello.CipherSuites)
        {
            suites.Append(suites.Length == 0 ? "" : ",").Append(Hex((ushort)s));
        }

        o = AnnotateVector(into, baseOffset, o, 2, hello.CipherSuiteBytes.Length, $"cipher_suites length={hello.CipherSuiteBytes.Length} ({hello.CipherSuiteBytes.Length / 2}) [{suites}]");
        o = AnnotateVector(into, baseOffset, o, 1, hello.CompressionMethods.Length, $"legacy_compression_methods length={hello.CompressionMethods.Length} [{Convert.ToHexStringLower(hello.CompressionMethods)}]");
        if (hello.HasExtensions)
        {
            AnnotateExtensions(hello.Extensions, baseOffset, o, client: true, into);
        }
    }

    /// <summary>Annotates a ServerHello body (after the handshake header) starting at <paramref name="baseOffset"/> in the dump.</summary>
    public static void AnnotateServerHello(ReadOnlySpan<byte> body, int baseOffset, ICollection<HexAnnotation> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (!ServerHelloReader.TryRead(body, out ServerHelloReader hello, out WireError error))
        {
            into.Add(new HexAnnotation(baseOffset, Math.Max(body.Length, 1), "ServerHello (invalid: " + error + ")"));
            return;
        }

        int o = AnnotatePrefix(body, baseOffset, into, hello.IsHelloRetryRequest ? "random (HelloRetryRequest magic)" : "random");

        o = AnnotateVector(into, baseOffset, o, 1, hello.LegacySessionIdEcho.Length, $"legacy_session_id_echo length={hello.LegacySessionIdEcho.Length}");
        into.Add(new HexAnnotation(baseOffset + o, 2, "cipher_suite=" + Hex((ushort)hello.CipherSuite)));
        into.Add(new HexAnnotation(baseOffset + o + 2, 1, "legacy_compression_method=" + hello.LegacyCompressionMethod));
        o += 3;
        if (hello.HasExtensions)
        {
            AnnotateExtensions(hello.Extensions, baseOffset, o, client: false, into);
        }
    }

    /// <summary>A one-line description of an extension's data, decoded when the type is known.</summary>
    public static string DescribeExtension(TlsExtensionType type, ReadOnlySpan<byte> data, bool client)
    {
        string name = TlsExtensionBlock.Name(type);
        string head = $"{name}({(ushort)type})";
        switch (type)
        {
            case TlsExtensionType.ServerName when client && !data.IsEmpty:
                if (TlsExtensionDecoder.TryReadServerName(data, out ReadOnlySpan<byte> host, out WireError e))
                {
                    return $"{head} host_name={Encoding.ASCII.GetString(host)}";
                }

                return $"{head} invalid: {e}";
            case TlsExtensionType.ApplicationLayerProtocolNegotiation:
                if (TlsExtensionDecoder.TryReadAlpn(data, out TlsAlpnList alpn, out e))
                {
                    return $"{head} [{string.Join(",", alpn.ToStrings())}]";
                }

                return $"{head} invalid: {e}";
            case TlsExtensionType.SupportedVersions when client:
                if (TlsExtensionDecoder.TryReadSupportedVersions(data, out TlsUInt16List<TlsVersion> versions, out e))
                {
                    return $"{head} [{Join(versions)}]";
                }

                return $"{head} invalid: {e}";
            case TlsExtensionType.SupportedVersions:
                if (TlsExtensionDecoder.TryReadSelectedVersion(data, out TlsVersion selected, out e))
                {
                    return $"{head} selected={Hex((ushort)selected)}";
                }

                return $"{head} invalid: {e}";
            case TlsExtensionType.SupportedGroups:
                if (TlsExtensionDecoder.TryReadSupportedGroups(data, out TlsUInt16List<TlsNamedGroup> groups, out e))
                {
                    return $"{head} [{Join(groups)}]";
                }

                return $"{head} invalid: {e}";
            case TlsExtensionType.SignatureAlgorithms:
            case TlsExtensionType.SignatureAlgorithmsCert:
                if (TlsExtensionDecoder.TryReadSignatureAlgorithms(data, out TlsUInt16List<TlsSignatureScheme> schemes, out e))
                {
                    return $"{head} [{Join(schemes)}]";
                }

                return $"{head} invalid: {e}";
            case TlsExtensionType.KeyShare when client:
                if (TlsExtensionDecoder.TryReadClientKeyShares(data, out TlsKeyShareList shares, out e))
                {
                    var sb = new StringBuilder();
                    foreach (TlsKeyShareEntry s in shares)
                    {
                        sb.Append(sb.Length == 0 ? "" : ",").Append(Hex((ushort)s.Group)).Append(':').Append(s.KeyExchange.Length).Append('B');
                    }

                    return $"{head} [{sb}]";
                }

                return $"{head} invalid: {e}";
            case TlsExtensionType.KeyShare when data.Length == 2:
                return $"{head} selected_group={Hex(BinaryPrimitives.ReadUInt16BigEndian(data))}";
            case TlsExtensionType.KeyShare:
                if (TlsExtensionDecoder.TryReadServerKeyShare(data, out TlsKeyShareEntry share, out e))
                {
                    return $"{head} {Hex((ushort)share.Group)}:{share.KeyExchange.Length}B";
                }

                return $"{head} invalid: {e}";
            default:
                return data.IsEmpty ? $"{head} (empty)" : $"{head} {data.Length} bytes";
        }
    }

    private static int AnnotatePrefix(ReadOnlySpan<byte> body, int baseOffset, ICollection<HexAnnotation> into, string randomLabel)
    {
        into.Add(new HexAnnotation(baseOffset, 2, "legacy_version=" + Hex(BinaryPrimitives.ReadUInt16BigEndian(body))));
        into.Add(new HexAnnotation(baseOffset + 2, TlsRandom.Length, randomLabel));
        return 2 + TlsRandom.Length;
    }

    private static int AnnotateVector(ICollection<HexAnnotation> into, int baseOffset, int offset, int prefix, int length, string text)
    {
        into.Add(new HexAnnotation(baseOffset + offset, prefix + length, text));
        return offset + prefix + length;
    }

    private static void AnnotateExtensions(TlsExtensionBlock block, int baseOffset, int offset, bool client, ICollection<HexAnnotation> into)
    {
        into.Add(new HexAnnotation(baseOffset + offset, 2, $"extensions length={block.Bytes.Length} ({block.Count})"));
        foreach (TlsExtension e in block)
        {
            into.Add(new HexAnnotation(baseOffset + e.Offset, 4 + e.Data.Length, DescribeExtension(e.Type, e.Data, client)));
        }
    }

    private static string Join<T>(TlsUInt16List<T> list)
        where T : unmanaged, Enum
    {
        var sb = new StringBuilder();
        foreach (T v in list)
        {
            sb.Append(sb.Length == 0 ? "" : ",").Append(Hex(Convert.ToUInt16(v, CultureInfo.InvariantCulture)));
        }

        return sb.ToString();
    }

    private static string Hex(ushort v) => "0x" + v.ToString("x4", CultureInfo.InvariantCulture);
}
