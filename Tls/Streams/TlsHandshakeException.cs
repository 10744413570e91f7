using System.Net.Security;
using System.Security.Authentication;

namespace Protocols.Tls;

/// <summary>Why a TLS handshake failed (see <see cref="TlsHandshakeException.Reason"/>).</summary>
public enum TlsHandshakeFailure
{
    /// <summary>No more specific reason could be determined; see the inner exception.</summary>
    Other = 0,

    /// <summary>The peer's certificate chain does not lead to a trusted root (or is expired, or not a TLS server certificate).</summary>
    CertificateUntrusted,

    /// <summary>The peer's certificate does not name the host that was asked for (no matching SAN).</summary>
    CertificateNameMismatch,

    /// <summary>No certificate of the peer's chain has a pinned SubjectPublicKeyInfo SHA-256.</summary>
    CertificatePinMismatch,

    /// <summary>The peer sent no certificate although one is required.</summary>
    CertificateMissing,

    /// <summary>The peer rejected our certificate (it sent a certificate alert, RFC 8446 6.2).</summary>
    CertificateRejectedByPeer,

    /// <summary>The two sides enable no common TLS version (alert protocol_version, RFC 8446 6.2).</summary>
    NoSharedProtocol,

    /// <summary>The two sides enable no common cipher suite or key exchange group (alert handshake_failure or insufficient_security).</summary>
    NoSharedCipher,

    /// <summary>The server supports none of the client's ALPN protocols (alert no_application_protocol, RFC 7301 3.2).</summary>
    NoApplicationProtocol,

    /// <summary>The peer closed the connection (FIN) before the handshake finished.</summary>
    PeerClosed,

    /// <summary>The connection was reset (RST) or failed underneath before the handshake finished.</summary>
    ConnectionReset,

    /// <summary>The handshake did not finish within its timeout.</summary>
    Timeout,

    /// <summary>The peer sent something that is not TLS, or broke the protocol (alert decode_error, unexpected_message...).</summary>
    ProtocolError,

    /// <summary>The peer sent a fatal alert not covered by a more specific reason (see <see cref="TlsHandshakeException.PeerAlert"/>).</summary>
    PeerAlert,
}

/// <summary>
/// A TLS handshake failed. <see cref="Reason"/> says why in terms an application can act on;
/// the message says it in words; the inner exception is what <see cref="SslStream"/> threw.
/// Derives from <see cref="AuthenticationException"/>, as SslStream's own handshake failures do.
/// </summary>
public sealed class TlsHandshakeException : AuthenticationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Why the handshake failed.</param>
    /// <param name="message">A one-line description.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public TlsHandshakeException(TlsHandshakeFailure reason, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Reason = reason;
    }

    /// <summary>Creates an exception with reason <see cref="TlsHandshakeFailure.Other"/>.</summary>
    public TlsHandshakeException()
        : this(TlsHandshakeFailure.Other, "The TLS handshake failed.")
    {
    }

    /// <summary>Creates an exception with reason <see cref="TlsHandshakeFailure.Other"/>.</summary>
    /// <param name="message">A one-line description.</param>
    public TlsHandshakeException(string message)
        : this(TlsHandshakeFailure.Other, message)
    {
    }

    /// <summary>Creates an exception with reason <see cref="TlsHandshakeFailure.Other"/>.</summary>
    /// <param name="message">A one-line description.</param>
    /// <param name="innerException">The underlying failure.</param>
    public TlsHandshakeException(string message, Exception? innerException)
        : this(TlsHandshakeFailure.Other, message, innerException)
    {
    }

    /// <summary>Why the handshake failed.</summary>
    public TlsHandshakeFailure Reason { get; }

    /// <summary>True for the local side's client role, false for the server role.</summary>
    public bool IsClient { get; init; }

    /// <summary>The policy errors our validation found in the peer's certificate (client side), or None.</summary>
    public SslPolicyErrors PolicyErrors { get; init; }

    /// <summary>The fatal alert description the peer sent in plaintext (RFC 8446 6), if one was seen.</summary>
    public TlsAlertDescription? PeerAlert { get; init; }

    /// <summary>The fatal alert description our side sent in plaintext, if one was seen.</summary>
    public TlsAlertDescription? LocalAlert { get; init; }

    /// <summary>True when the failure is about a certificate (ours or the peer's).</summary>
    public bool IsCertificateFailure => Reason is TlsHandshakeFailure.CertificateUntrusted or TlsHandshakeFailure.CertificateNameMismatch
        or TlsHandshakeFailure.CertificatePinMismatch or TlsHandshakeFailure.CertificateMissing or TlsHandshakeFailure.CertificateRejectedByPeer;
}
