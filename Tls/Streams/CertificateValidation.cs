using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Protocols.Tls;

/// <summary>What the client's certificate check decided, for the handshake exception.</summary>
internal sealed class CertificateCheckState
{
    public TlsHandshakeFailure? Failure { get; set; }

    public SslPolicyErrors PolicyErrors { get; set; }

    public string? Detail { get; set; }
}

/// <summary>The client-side certificate rules of <see cref="TlsClientOptions"/>.</summary>
internal static class CertificateValidation
{
    public static X509ChainPolicy CustomRootPolicy(X509Certificate2Collection roots, X509RevocationMode revocation)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = revocation,
        };
        policy.CustomTrustStore.AddRange(roots);
        return policy;
    }

    public static RemoteCertificateValidationCallback CreateCallback(TlsClientOptions options, CertificateCheckState? state)
    {
        HashSet<string>? pins = options.PinnedPublicKeys is { Count: > 0 } ? new HashSet<string>(options.PinnedPublicKeys, StringComparer.Ordinal) : null;
        bool insecure = options.InsecureSkipVerification;
        return (_, certificate, chain, errors) =>
        {
            if (state is not null)
            {
                state.PolicyErrors = errors;
            }

            if (certificate is null)
            {
                return Fail(state, TlsHandshakeFailure.CertificateMissing, "the server sent no certificate");
            }

            if (!insecure)
            {
                if ((errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
                {
                    return Fail(state, TlsHandshakeFailure.CertificateMissing, "the server sent no certificate");
                }

                if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0)
                {
                    string status = chain is null
                        ? "chain errors"
                        : string.Join("; ", chain.ChainStatus.Where(s => s.Status != X509ChainStatusFlags.NoError).Select(s => $"{s.Status}: {s.StatusInformation.Trim()}").Distinct());
                    return Fail(state, TlsHandshakeFailure.CertificateUntrusted, $"the certificate of {Subject(certificate)} is not trusted ({status})");
                }

                if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    return Fail(state, TlsHandshakeFailure.CertificateNameMismatch, $"the certificate of {Subject(certificate)} does not name the host asked for");
                }
            }

            if (pins is not null)
            {
                using X509Certificate2? copy = certificate is X509Certificate2 ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                X509Certificate2 leaf = copy ?? (X509Certificate2)certificate;
                if (!MatchesPin(leaf, chain, pins))
                {
                    return Fail(state, TlsHandshakeFailure.CertificatePinMismatch,
                        $"no certificate of the chain has a pinned public key (leaf pin-sha256 {TlsCertificates.GetSpkiSha256(leaf)})");
                }
            }

            return true;
        };
    }

    private static bool MatchesPin(X509Certificate2 leaf, X509Chain? chain, HashSet<string> pins)
    {
        if (pins.Contains(TlsCertificates.GetSpkiSha256(leaf)))
        {
            return true;
        }

        if (chain is not null)
        {
            foreach (X509ChainElement element in chain.ChainElements)
            {
                if (pins.Contains(TlsCertificates.GetSpkiSha256(element.Certificate)))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static string Subject(X509Certificate certificate) => certificate.Subject.Length > 0 ? $"'{certificate.Subject}'" : "the server";

    private static bool Fail(CertificateCheckState? state, TlsHandshakeFailure failure, string detail)
    {
        if (state is not null)
        {
            state.Failure = failure;
            state.Detail = detail;
        }

        return false;
    }
}
