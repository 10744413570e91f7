using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Protocols.Tls;

/// <summary>
/// Certificates for demos and tests: a self-signed ECDSA P-256 certificate with SAN entries, PEM
/// export and import (the CLI's <c>--cert</c>/<c>--key</c>), and RFC 7469 SPKI pins.
/// </summary>
public static class TlsCertificates
{
    // RFC 5280 4.2.1.12: id-kp-serverAuth and id-kp-clientAuth.
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    /// <summary>
    /// Makes a self-signed ECDSA P-256 (SHA-256) certificate with its private key, valid from one
    /// hour ago for <paramref name="validity"/> (default 30 days), whose subject alternative names
    /// are <paramref name="dnsNames"/> and <paramref name="ipAddresses"/> (RFC 5280 4.2.1.6; TLS
    /// clients match host names against these, not the CN). It is its own trust anchor: trust it
    /// with <see cref="TlsClientOptions.TrustedCertificates"/>.
    /// </summary>
    /// <param name="dnsNames">DNS names (the first also becomes the CN); at least one name or address is needed.</param>
    /// <param name="ipAddresses">IP addresses for SAN iPAddress entries.</param>
    /// <param name="validity">How long it is valid.</param>
    /// <param name="timeProvider">The clock for the validity period (default the system clock).</param>
    public static X509Certificate2 CreateSelfSigned(IEnumerable<string>? dnsNames, IEnumerable<IPAddress>? ipAddresses = null, TimeSpan? validity = null, TimeProvider? timeProvider = null)
    {
        string[] names = dnsNames?.ToArray() ?? [];
        IPAddress[] addresses = ipAddresses?.ToArray() ?? [];
        if (names.Length == 0 && addresses.Length == 0)
        {
            throw new ArgumentException("a certificate needs at least one DNS name or IP address", nameof(dnsNames));
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string commonName = names.Length > 0 ? names[0] : addresses[0].ToString();
        var request = new CertificateRequest(new X500DistinguishedName($"CN={commonName}"), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (string name in names)
        {
            san.AddDnsName(name);
        }

        foreach (IPAddress address in addresses)
        {
            san.AddIpAddress(address);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuthOid), new Oid(ClientAuthOid)], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));

        DateTimeOffset now = (timeProvider ?? TimeProvider.System).GetUtcNow();
        using X509Certificate2 created = request.CreateSelfSigned(now.AddHours(-1), now + (validity ?? TimeSpan.FromDays(30)));

        // A PKCS#12 round trip gives a certificate whose key every platform's TLS accepts.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), password: null);
    }

    /// <summary>The certificate in PEM (<c>-----BEGIN CERTIFICATE-----</c>).</summary>
    public static string ExportCertificatePem(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return certificate.ExportCertificatePem();
    }

    /// <summary>The private key in PKCS#8 PEM (<c>-----BEGIN PRIVATE KEY-----</c>).</summary>
    /// <exception cref="InvalidOperationException">The certificate has no exportable ECDSA or RSA private key.</exception>
    public static string ExportPrivateKeyPem(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using ECDsa? ecdsa = certificate.GetECDsaPrivateKey();
        if (ecdsa is not null)
        {
            return ecdsa.ExportPkcs8PrivateKeyPem();
        }

        using RSA? rsa = certificate.GetRSAPrivateKey();
        return rsa?.ExportPkcs8PrivateKeyPem() ?? throw new InvalidOperationException("the certificate has no ECDSA or RSA private key");
    }

    /// <summary>Writes the certificate and its key as two PEM files (the key file readable by the owner only).</summary>
    public static void WritePemFiles(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        File.WriteAllText(certificatePath, ExportCertificatePem(certificate));
        File.WriteAllText(keyPath, string.Empty);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.WriteAllText(keyPath, ExportPrivateKeyPem(certificate));
    }

    /// <summary>
    /// Loads a certificate and its private key from PEM files (the key may be PKCS#8, SEC1 EC or
    /// PKCS#1 RSA; the certificate file may hold the chain after the leaf, which is ignored here:
    /// use <see cref="LoadPemContext"/> to serve it).
    /// </summary>
    public static X509Certificate2 LoadPem(string certificatePath, string keyPath)
    {
        using X509Certificate2 loaded = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        return X509CertificateLoader.LoadPkcs12(loaded.Export(X509ContentType.Pkcs12), password: null);
    }

    /// <summary>A server certificate context from PEM files: the leaf with its key plus any further certificates in the file as the chain.</summary>
    public static SslStreamCertificateContext LoadPemContext(string certificatePath, string keyPath)
    {
        X509Certificate2 leaf = LoadPem(certificatePath, keyPath);
        var all = new X509Certificate2Collection();
        all.ImportFromPemFile(certificatePath);
        var chain = new X509Certificate2Collection();
        foreach (X509Certificate2 certificate in all)
        {
            if (certificate.Thumbprint != leaf.Thumbprint)
            {
                chain.Add(certificate);
            }
        }

        return SslStreamCertificateContext.Create(leaf, chain, offline: true);
    }

    /// <summary>Loads every certificate of a PEM file (a CA bundle for <see cref="TlsClientOptions.TrustedCertificates"/>).</summary>
    public static X509Certificate2Collection LoadPemBundle(string path)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(path);
        if (certificates.Count == 0)
        {
            throw new CryptographicException($"no certificate in {path}");
        }

        return certificates;
    }

    /// <summary>
    /// The RFC 7469 pin of a certificate: base64 of the SHA-256 of its DER SubjectPublicKeyInfo
    /// (what <c>openssl x509 -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64</c> prints).
    /// </summary>
    public static string GetSpkiSha256(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToBase64String(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));
    }

    /// <summary>A server context for <paramref name="certificate"/> without fetching anything (offline).</summary>
    public static SslStreamCertificateContext CreateContext(X509Certificate2 certificate) =>
        SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
}
