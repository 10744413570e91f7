using Protocols.Wire;

namespace Protocols.Tls;

/// <summary>The outcome of <see cref="TlsClientHelloInfo.TryParse"/>.</summary>
public enum TlsClientHelloStatus
{
    /// <summary>A whole, valid ClientHello was found.</summary>
    Complete = 0,

    /// <summary>The bytes so far are a valid beginning; more are needed (see the required length).</summary>
    NeedMoreData = 1,

    /// <summary>The bytes are not a valid TLS ClientHello (see the error); more data will not help.</summary>
    Malformed = 2,
}

/// <summary>
/// What a router needs from the first bytes of a TLS connection: SNI, ALPN, offered versions.
/// <see cref="TryParse"/> reads record headers, reassembles the ClientHello when it spans several
/// records, and parses it, without consuming anything: call it again on a longer prefix after
/// <see cref="TlsClientHelloStatus.NeedMoreData"/>.
/// </summary>
/// <remarks>
/// Rules applied: every record before the end of the ClientHello must be a handshake record
/// (RFC 8446 5.1: no interleaving; checked on the first byte, so non-TLS traffic is rejected at once) of 1..2^14+256 bytes (RFC 8446 5.1: no zero-length handshake
/// fragments; 5.2: length limit); the first handshake message must be a ClientHello no larger than
/// <see cref="ClientHelloReader.MaxLength"/>; nothing may follow it inside its last record (a
/// client sends nothing else until the server answers). SSL 2.0-compatible hellos (RFC 5246 E.2)
/// are reported as malformed. Error offsets are relative to the first byte of the connection when
/// the hello fits in one record, otherwise relative to the reassembled handshake message.
/// </remarks>
public sealed class TlsClientHelloInfo
{
    private const string Layer = TlsCursor.Layer;

    private TlsClientHelloInfo(
        TlsVersion recordVersion,
        TlsVersion legacyVersion,
        string? serverName,
        string[] applicationProtocols,
        TlsVersion[] offeredVersions,
        TlsCipherSuite[] cipherSuites,
        int length,
        int recordCount)
    {
        RecordVersion = recordVersion;
        LegacyVersion = legacyVersion;
        ServerName = serverName;
        ApplicationProtocols = applicationProtocols;
        OfferedVersions = offeredVersions;
        CipherSuites = cipherSuites;
        Length = length;
        RecordCount = recordCount;
    }

    /// <summary>legacy_record_version of the first record (0x0301 from most clients).</summary>
    public TlsVersion RecordVersion { get; }

    /// <summary>ClientHello.legacy_version.</summary>
    public TlsVersion LegacyVersion { get; }

    /// <summary>The server_name host (RFC 6066 3), or null when the client sent none.</summary>
    public string? ServerName { get; }

    /// <summary>The ALPN protocol names offered (RFC 7301), in order; empty when none.</summary>
    public IReadOnlyList<string> ApplicationProtocols { get; }

    /// <summary>
    /// The versions offered: the supported_versions list when present (RFC 8446 4.2.1, GREASE
    /// values included as sent), else the single legacy_version (a pre-TLS 1.3 client).
    /// </summary>
    public IReadOnlyList<TlsVersion> OfferedVersions { get; }

    /// <summary>The offered cipher suites in order.</summary>
    public IReadOnlyList<TlsCipherSuite> CipherSuites { get; }

    /// <summary>How many bytes of the connection the records carrying the ClientHello take.</summary>
    public int Length { get; }

    /// <summary>How many records carried the ClientHello (more than one when fragmented).</summary>
    public int RecordCount { get; }

    /// <summary>True when TLS 1.3 is among <see cref="OfferedVersions"/>.</summary>
    public bool OffersTls13 => OfferedVersions.Contains(TlsVersion.Tls13);

    /// <summary>
    /// Parses the ClientHello at the start of a connection. Never throws.
    /// </summary>
    /// <param name="firstBytesOfConnection">All bytes received so far, from the first.</param>
    /// <param name="info">The result when <see cref="TlsClientHelloStatus.Complete"/>.</param>
    /// <param name="requiredLength">
    /// With <see cref="TlsClientHelloStatus.NeedMoreData"/>: a lower bound on the total number of
    /// connection bytes needed before a retry can progress (exact once the record lengths are
    /// known); otherwise the bytes consumed by the hello (Complete) or 0.
    /// </param>
    /// <param name="error">
    /// With <see cref="TlsClientHelloStatus.Malformed"/>: what is wrong. With NeedMoreData: the
    /// length error that more data would cure (Kind TooShort, Source Buffer).
    /// </param>
    public static TlsClientHelloStatus TryParse(ReadOnlySpan<byte> firstBytesOfConnection, out TlsClientHelloInfo? info, out int requiredLength, out WireError error)
    {
        info = null;
        requiredLength = 0;
        ReadOnlySpan<byte> data = firstBytesOfConnection;
        int position = 0;
        int records = 0;
        TlsVersion recordVersion = default;

        // The handshake message so far: a slice of the first record while it is the only one,
        // a copy once the message spans records (RFC 8446 5.1 allows any fragmentation).
        ReadOnlySpan<byte> message = default;
        byte[]? assembled = null;
        int assembledLength = 0;

        while (true)
        {
            // How much of the message is still missing, when known (used for the length lower bound).
            int missing = MissingBytes(message);

            // RFC 8446 5.1: only handshake records until the ClientHello is complete. Checked on the
            // first byte so that non-TLS traffic ("GET / ...") is rejected without waiting for more.
            if (position < data.Length && data[position] != (byte)TlsContentType.Handshake)
            {
                error = WireError.InvalidValue(Layer, "ContentType", (long)TlsContentType.Handshake, data[position], position);
                return TlsClientHelloStatus.Malformed;
            }

            if (data.Length - position < TlsFraming.RecordHeaderLength)
            {
                requiredLength = position + TlsFraming.RecordHeaderLength + missing;
                error = WireError.TooShort(Layer, "record", requiredLength, data.Length, LengthSource.Buffer, position);
                return TlsClientHelloStatus.NeedMoreData;
            }

            // RFC 8446 5.1 record header; the generated reader applies the content-type range and
            // the 2^14 + 256 length limit (RFC 8446 5.2), then checks that the fragment is all there.
            if (!TlsRecordHeader.TryRead(data.Slice(position), out TlsRecordHeader.Reader record, out error))
            {
                if (error.Kind == WireErrorKind.TooShort && error.Source == LengthSource.Buffer)
                {
                    requiredLength = position + (int)error.Required;
                    error = error with { Required = requiredLength, Actual = data.Length, Offset = position };
                    return TlsClientHelloStatus.NeedMoreData;
                }

                error = error.WithOffset(position);
                return TlsClientHelloStatus.Malformed;
            }

            if (records == 0)
            {
                recordVersion = record.LegacyRecordVersion;
            }

            // RFC 8446 5.1: implementations MUST NOT send zero-length fragments of handshake types.
            if (record.Length == 0)
            {
                error = WireError.LengthTooSmall(Layer, "Length", 1, 0, LengthSource.PayloadLength, position + 3);
                return TlsClientHelloStatus.Malformed;
            }

            ReadOnlySpan<byte> fragment = record.Payload;
            position += record.Bytes.Length;
            records++;
            if (records == 1)
            {
                message = fragment;
            }
            else
            {
                if (assembled is null)
                {
                    assembled = new byte[Math.Min(TlsFraming.HandshakeHeaderLength + ClientHelloReader.MaxLength, message.Length + fragment.Length + missing)];
                    message.CopyTo(assembled);
                    assembledLength = message.Length;
                }

                // A fragment may run past the hello's end; keep it all so the trailing check below sees it.
                // Grown geometrically: a hostile peer sending 1-byte records must not cost quadratic copying.
                if (assembledLength + fragment.Length > assembled.Length)
                {
                    Array.Resize(ref assembled, Math.Max(assembled.Length * 2, assembledLength + fragment.Length));
                }

                fragment.CopyTo(assembled.AsSpan(assembledLength));
                assembledLength += fragment.Length;
                message = assembled.AsSpan(0, assembledLength);
            }

            // RFC 8446 4: the handshake header. The first message of a connection is a ClientHello
            // (RFC 8446 2); its type byte is checked as soon as it arrives.
            int headerOffset = records == 1 ? TlsFraming.RecordHeaderLength : 0;
            if (message[0] != (byte)TlsHandshakeType.ClientHello)
            {
                error = WireError.InvalidValue(Layer, "HandshakeType", (long)TlsHandshakeType.ClientHello, message[0], headerOffset);
                return TlsClientHelloStatus.Malformed;
            }

            if (message.Length < TlsFraming.HandshakeHeaderLength)
            {
                continue;
            }

            int bodyLength = (message[1] << 16) | (message[2] << 8) | message[3];
            if (bodyLength > ClientHelloReader.MaxLength)
            {
                error = WireError.InvalidValue(Layer, "Length", ClientHelloReader.MaxLength, bodyLength, headerOffset + 1);
                return TlsClientHelloStatus.Malformed;
            }

            // Incomplete until the generated reader finds the whole body (it trims to the length field).
            if (!HandshakeHeader.TryRead(message, out HandshakeHeader.Reader handshake, out _))
            {
                continue;
            }

            if (message.Length > handshake.Bytes.Length)
            {
                // The client sends nothing after its ClientHello until the server answers.
                error = WireError.Malformed(Layer, "Length", handshake.Bytes.Length, message.Length, LengthSource.PayloadLength, headerOffset + handshake.Bytes.Length);
                return TlsClientHelloStatus.Malformed;
            }

            int bodyOffset = headerOffset + TlsFraming.HandshakeHeaderLength;
            if (!TryDescribe(handshake.Payload, recordVersion, position, records, out info, out error))
            {
                error = error.WithOffset(bodyOffset);
                return TlsClientHelloStatus.Malformed;
            }

            requiredLength = position;
            return TlsClientHelloStatus.Complete;
        }
    }

    /// <summary>"ClientHello sni=example.com alpn=[h2,http/1.1] versions=[0x0304,0x0303]".</summary>
    public override string ToString() =>
        $"ClientHello sni={ServerName ?? "(none)"} alpn=[{string.Join(",", ApplicationProtocols)}] versions=[{string.Join(",", OfferedVersions.Select(v => $"0x{(ushort)v:x4}"))}] records={RecordCount} length={Length}";

    private static int MissingBytes(ReadOnlySpan<byte> message)
    {
        if (message.Length < TlsFraming.HandshakeHeaderLength)
        {
            // Before the first record nothing is known; after it, at least the rest of the header.
            return message.IsEmpty ? 0 : TlsFraming.HandshakeHeaderLength - message.Length;
        }

        int bodyLength = (message[1] << 16) | (message[2] << 8) | message[3];
        return Math.Max(0, TlsFraming.HandshakeHeaderLength + bodyLength - message.Length);
    }

    private static bool TryDescribe(ReadOnlySpan<byte> body, TlsVersion recordVersion, int length, int records, out TlsClientHelloInfo? info, out WireError error)
    {
        info = null;
        if (!ClientHelloReader.TryRead(body, out ClientHelloReader hello, out error)
            || !hello.TryGetServerNameString(out string? serverName, out error)
            || !hello.TryGetAlpn(out TlsAlpnList alpn, out error)
            || !hello.TryGetSupportedVersions(out TlsUInt16List<TlsVersion> versions, out error))
        {
            return false;
        }

        TlsVersion[] offered = hello.TryGetExtension(TlsExtensionType.SupportedVersions, out _)
            ? versions.ToArray()
            : [hello.LegacyVersion];
        info = new TlsClientHelloInfo(recordVersion, hello.LegacyVersion, serverName, alpn.ToStrings(), offered, hello.CipherSuites.ToArray(), length, records);
        return true;
    }
}
