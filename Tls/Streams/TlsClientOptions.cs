using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Protocols.Tls;

/// <summary>
/// How a TLS client connects and what server certificate it accepts. By default: TLS 1.2 or 1.3,
/// the system trust store, the host name checked against the certificate's SAN entries.
/// </summary>
/// <remarks>
/// Certificate checks, in order: the chain (against <see cref="TrustedCertificates"/> alone when
/// set, else the system store) and the host name, both skipped only by
/// <see cref="InsecureSkipVerification"/>; then, when <see cref="PinnedPublicKeys"/> is set, one
/// certificate of the chain must carry a pinned key (checked even when insecure, so "pin only,
/// no CA" is <c>InsecureSkipVerification = true</c> plus a pin).
/// </remarks>
public sealed record TlsClientOptions
{
    /// <summary>The versions to offer: <see cref="SslProtocols.Tls13"/>, <see cref="SslProtocols.Tls12"/> or both (default both).</summary>
    public SslProtocols EnabledProtocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>ALPN protocols to offer (RFC 7301), in preference order; null or empty offers none.</summary>
    public IReadOnlyList<SslApplicationProtocol>? ApplicationProtocols { get; init; }

    /// <summary>
    /// The only roots to trust (e.g. a test CA, or a self-signed server certificate itself); the
    /// system store is not consulted when this is set (X509ChainTrustMode.CustomRootTrust).
    /// </summary>
    public X509Certificate2Collection? TrustedCertificates { get; init; }

    /// <summary>
    /// Pins: base64 SHA-256 digests of a SubjectPublicKeyInfo (the <c>pin-sha256</c> form of RFC
    /// 7469, see <see cref="TlsCertificates.GetSpkiSha256"/>); one certificate of the peer's chain must match one.
    /// </summary>
    public IReadOnlyCollection<string>? PinnedPublicKeys { get; init; }

    /// <summary>Accept any certificate chain and name (tests and demos only). Pins are still enforced.</summary>
    public bool InsecureSkipVerification { get; init; }

    /// <summary>Revocation checking of the chain (default none: stacks under test are usually offline).</summary>
    public X509RevocationMode RevocationMode { get; init; } = X509RevocationMode.NoCheck;

    /// <summary>The cipher suites to offer (null: the platform's defaults).</summary>
    public CipherSuitesPolicy? CipherSuites { get; init; }

    /// <summary>Client certificates to present when the server asks.</summary>
    public X509CertificateCollection? ClientCertificates { get; init; }

    /// <summary>The longest the handshake may take (default 30 s); <see cref="Timeout.InfiniteTimeSpan"/> for no limit.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Called for every TLS record of the connection (see <see cref="TlsTracingStream"/>); null for none.</summary>
    public Action<TlsRecordEvent>? Trace { get; init; }

    /// <summary>A shared instance with the defaults.</summary>
    public static TlsClientOptions Default { get; } = new();

    /// <summary>
    /// The equivalent SslStream options for <paramref name="targetHost"/> (SNI and name check), with
    /// a validation callback implementing the rules above. Useful for code that builds its own
    /// SslStream, or for <c>SocketsHttpHandler.SslOptions</c> (pass null: the handler sets the host).
    /// </summary>
    public SslClientAuthenticationOptions ToSslOptions(string? targetHost) => ToSslOptions(targetHost, state: null);

    internal SslClientAuthenticationOptions ToSslOptions(string? targetHost, CertificateCheckState? state)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = targetHost,
            EnabledSslProtocols = EnabledProtocols,
            CertificateRevocationCheckMode = RevocationMode,
            ClientCertificates = ClientCertificates,
            CipherSuitesPolicy = CipherSuites,
            RemoteCertificateValidationCallback = CertificateValidation.CreateCallback(this, state),
        };
        if (ApplicationProtocols is { Count: > 0 })
        {
            options.ApplicationProtocols = [.. ApplicationProtocols];
        }

        if (TrustedCertificates is { Count: > 0 })
        {
            options.CertificateChainPolicy = CertificateValidation.CustomRootPolicy(TrustedCertificates, RevocationMode);
        }

        return options;
    }
}

/// <summary>
/// How a TLS server presents itself: a certificate (or a prepared context with its chain), or a
/// selector that picks one by the client's SNI name; ALPN; versions.
/// </summary>
public sealed record TlsServerOptions
{
    /// <summary>The certificate with its private key (used when no context and no selector gives one).</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>A prepared certificate context (certificate plus intermediates); preferred over <see cref="Certificate"/>.</summary>
    public SslStreamCertificateContext? CertificateContext { get; init; }

    /// <summary>
    /// Chooses the certificate by the SNI name of the ClientHello (null when the client sent none);
    /// returning null falls back to <see cref="CertificateContext"/> or <see cref="Certificate"/>.
    /// </summary>
    public Func<string?, SslStreamCertificateContext?>? CertificateSelector { get; init; }

    /// <summary>The versions to accept (default TLS 1.2 and 1.3).</summary>
    public SslProtocols EnabledProtocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>ALPN protocols supported, in the server's preference order; null or empty: no ALPN.</summary>
    public IReadOnlyList<SslApplicationProtocol>? ApplicationProtocols { get; init; }

    /// <summary>The cipher suites to accept (null: the platform's defaults).</summary>
    public CipherSuitesPolicy? CipherSuites { get; init; }

    /// <summary>Ask the client for a certificate (mutual TLS).</summary>
    public bool ClientCertificateRequired { get; init; }

    /// <summary>Validates the client's certificate when <see cref="ClientCertificateRequired"/>; null uses SslStream's default (system store).</summary>
    public RemoteCertificateValidationCallback? ClientCertificateValidation { get; init; }

    /// <summary>The longest the handshake may take (default 30 s); <see cref="Timeout.InfiniteTimeSpan"/> for no limit.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Called for every TLS record of the connection (see <see cref="TlsTracingStream"/>); null for none.</summary>
    public Action<TlsRecordEvent>? Trace { get; init; }

    /// <summary>The SslStream options for a ClientHello naming <paramref name="serverName"/>.</summary>
    /// <exception cref="InvalidOperationException">No certificate is configured for that name.</exception>
    public SslServerAuthenticationOptions ToSslOptions(string? serverName)
    {
        SslStreamCertificateContext? context = CertificateSelector?.Invoke(serverName) ?? CertificateContext;
        if (context is null && Certificate is null)
        {
            throw new InvalidOperationException($"no server certificate for {(serverName is null ? "a client without SNI" : $"SNI name '{serverName}'")}");
        }

        var options = new SslServerAuthenticationOptions
        {
            EnabledSslProtocols = EnabledProtocols,
            ServerCertificateContext = context,
            ServerCertificate = context is null ? Certificate : null,
            CipherSuitesPolicy = CipherSuites,
            ClientCertificateRequired = ClientCertificateRequired,
            RemoteCertificateValidationCallback = ClientCertificateValidation,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
        if (ApplicationProtocols is { Count: > 0 })
        {
            options.ApplicationProtocols = [.. ApplicationProtocols];
        }

        return options;
    }
}
