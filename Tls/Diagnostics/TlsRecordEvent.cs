using System.Globalization;
using System.Text;

namespace Protocols.Tls;

/// <summary>Which way a traced record went, seen from the wrapped stream's owner.</summary>
public enum TlsTraceDirection
{
    /// <summary>Written by this side.</summary>
    Sent,

    /// <summary>Read from the peer.</summary>
    Received,
}

/// <summary>
/// One TLS record seen on a connection by a <see cref="TlsTracingStream"/>, decoded as far as a
/// passive observer can: the record header always; the handshake messages, hellos and alerts while
/// they travel in plaintext (RFC 8446 5: before the keys change).
/// </summary>
public sealed class TlsRecordEvent
{
    /// <summary>Which way the record went.</summary>
    public TlsTraceDirection Direction { get; init; }

    /// <summary>The record's content type (RFC 8446 5.1).</summary>
    public TlsContentType ContentType { get; init; }

    /// <summary>The record's legacy_record_version.</summary>
    public TlsVersion RecordVersion { get; init; }

    /// <summary>The record's payload length (without the 5-byte header).</summary>
    public int Length { get; init; }

    /// <summary>True when the payload is protected (application data, or a record sent after ChangeCipherSpec in TLS 1.2).</summary>
    public bool IsEncrypted { get; init; }

    /// <summary>
    /// TLS 1.3: true for a protected record that still belongs to the handshake, as far as an
    /// observer can tell (the server's flight after its ServerHello, the client's Finished).
    /// </summary>
    public bool IsEncryptedHandshake { get; init; }

    /// <summary>The plaintext handshake messages that ended in this record, in order.</summary>
    public IReadOnlyList<TlsHandshakeType> HandshakeMessages { get; init; } = [];

    /// <summary>ClientHello: the SNI host name, if any.</summary>
    public string? ServerName { get; init; }

    /// <summary>ClientHello: the ALPN protocols offered; ServerHello (TLS 1.2): the one selected.</summary>
    public IReadOnlyList<string> ApplicationProtocols { get; init; } = [];

    /// <summary>ClientHello: the versions offered (supported_versions, or legacy_version).</summary>
    public IReadOnlyList<TlsVersion> OfferedVersions { get; init; } = [];

    /// <summary>ServerHello: the version the server selected.</summary>
    public TlsVersion? NegotiatedVersion { get; init; }

    /// <summary>ServerHello: the cipher suite the server selected.</summary>
    public ushort? CipherSuite { get; init; }

    /// <summary>ServerHello: true when it is a HelloRetryRequest (RFC 8446 4.1.4).</summary>
    public bool IsHelloRetryRequest { get; init; }

    /// <summary>A plaintext alert's level.</summary>
    public TlsAlertLevel? AlertLevel { get; init; }

    /// <summary>A plaintext alert's description.</summary>
    public TlsAlertDescription? AlertDescription { get; init; }

    /// <summary>Why the bytes could not be decoded (not TLS, a malformed hello...), or null.</summary>
    public string? Error { get; init; }

    /// <summary>
    /// One line, in the spirit of Wireshark's Info column:
    /// <c>Handshake ClientHello, SNI example.com, ALPN [h2, http/1.1], offers TLS 1.3, TLS 1.2, length 512</c>.
    /// </summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        if (Error is not null && ContentType is < TlsContentType.ChangeCipherSpec or > TlsContentType.Heartbeat)
        {
            text.Append("not TLS: ").Append(Error);
            return text.ToString();
        }

        switch (ContentType)
        {
            case TlsContentType.Handshake when IsEncrypted:
                text.Append("Handshake (encrypted)");
                break;
            case TlsContentType.Handshake:
                text.Append("Handshake ");
                text.Append(HandshakeMessages.Count == 0 ? "(fragment)" : string.Join(", ", HandshakeMessages.Select(NameOf)));
                if (ServerName is not null)
                {
                    text.Append(", SNI ").Append(ServerName);
                }

                if (IsHelloRetryRequest)
                {
                    text.Append(" (HelloRetryRequest)");
                }

                if (ApplicationProtocols.Count > 0)
                {
                    text.Append(", ALPN [").Append(string.Join(", ", ApplicationProtocols)).Append(']');
                }

                if (OfferedVersions.Count > 0)
                {
                    text.Append(", offers ").Append(string.Join(", ", OfferedVersions.Select(VersionName)));
                }

                if (NegotiatedVersion is TlsVersion version)
                {
                    text.Append(", ").Append(VersionName(version));
                }

                if (CipherSuite is ushort suite)
                {
                    text.Append(", ").Append(CipherSuiteName(suite));
                }

                break;
            case TlsContentType.Alert when AlertDescription is TlsAlertDescription description:
                text.Append("Alert ").Append(AlertLevel == TlsAlertLevel.Warning ? "warning " : "fatal ").Append(AlertName(description));
                break;
            case TlsContentType.Alert:
                text.Append("Alert (encrypted)");
                break;
            case TlsContentType.ChangeCipherSpec:
                text.Append("ChangeCipherSpec");
                break;
            case TlsContentType.ApplicationData when IsEncryptedHandshake:
                text.Append("ApplicationData (encrypted handshake)");
                break;
            case TlsContentType.ApplicationData:
                text.Append("ApplicationData (encrypted)");
                break;
            default:
                text.Append(ContentType.ToString());
                break;
        }

        text.Append(", length ").Append(Length.ToString(CultureInfo.InvariantCulture));
        if (Error is not null)
        {
            text.Append(" (malformed: ").Append(Error).Append(')');
        }

        return text.ToString();
    }

    /// <summary>"TLS 1.3", "TLS 1.2"..., "GREASE" for RFC 8701 values, else the number in hex.</summary>
    public static string VersionName(TlsVersion version) => version switch
    {
        TlsVersion.Ssl30 => "SSL 3.0",
        TlsVersion.Tls10 => "TLS 1.0",
        TlsVersion.Tls11 => "TLS 1.1",
        TlsVersion.Tls12 => "TLS 1.2",
        TlsVersion.Tls13 => "TLS 1.3",
        _ when IsGrease((ushort)version) => "GREASE",
        _ => string.Create(CultureInfo.InvariantCulture, $"0x{(ushort)version:x4}"),
    };

    /// <summary>The IANA name of a cipher suite (<c>TLS_AES_256_GCM_SHA384</c>), else its number in hex.</summary>
    public static string CipherSuiteName(ushort suite)
    {
        string name = ((System.Net.Security.TlsCipherSuite)suite).ToString();
        return char.IsDigit(name[0]) ? string.Create(CultureInfo.InvariantCulture, $"0x{suite:x4}") : name;
    }

    /// <summary>The RFC name of an alert (<c>protocol_version</c>).</summary>
    public static string AlertName(TlsAlertDescription description)
    {
        string name = description.ToString();
        if (char.IsDigit(name[0]))
        {
            return string.Create(CultureInfo.InvariantCulture, $"alert {(byte)description}");
        }

        var snake = new StringBuilder();
        foreach (char c in name)
        {
            if (char.IsUpper(c) && snake.Length > 0)
            {
                snake.Append('_');
            }

            snake.Append(char.ToLowerInvariant(c));
        }

        return snake.ToString();
    }

    // RFC 8701 2: GREASE values are 0x?A?A with both bytes equal.
    private static bool IsGrease(ushort value) => (value & 0x0f0f) == 0x0a0a && (value >> 8) == (value & 0xff);

    private static string NameOf(TlsHandshakeType type) =>
        Enum.IsDefined(type) ? type.ToString() : string.Create(CultureInfo.InvariantCulture, $"type {(byte)type}");
}
