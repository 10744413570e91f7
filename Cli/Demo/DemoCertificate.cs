using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Protocols.Cli.Demo;

/// <summary>
/// The demo server's self-signed certificate, made at start: RSA 2048 with a 16-byte serial, so
/// that its encoding and every signature made with it (RSA-PSS in TLS 1.3's CertificateVerify)
/// have the same length on every run. An ECDSA signature's DER length varies by a byte or two
/// from run to run, which would shift every TCP sequence number after the server's first flight.
/// </summary>
internal static class DemoCertificate
{
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";

    /// <summary>Creates the certificate for <paramref name="name"/> and <paramref name="address"/>.</summary>
    public static X509Certificate2 Create(string name, IPAddress address)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}"), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        san.AddIpAddress(address);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuthOid)], critical: false));

        // A positive serial of exactly 16 bytes: its first byte is 0x01 to 0x7f (RFC 5280 4.1.2.2).
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7f) | 0x01);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using X509Certificate2 created = request.Create(request.SubjectName, X509SignatureGenerator.CreateForRSA(key, RSASignaturePadding.Pkcs1), now.AddHours(-1), now.AddDays(1), serial);
        using X509Certificate2 withKey = created.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), password: null);
    }
}
