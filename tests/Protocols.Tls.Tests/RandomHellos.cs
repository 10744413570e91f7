namespace Protocols.Tls.Tests;

/// <summary>Seeded random hello builders for property tests.</summary>
internal static class RandomHellos
{
    private const string HostChars = "abcdefghijklmnopqrstuvwxyz0123456789-";

    private static readonly TlsExtensionType[] Typed =
    [
        TlsExtensionType.ServerName, TlsExtensionType.SupportedGroups, TlsExtensionType.SignatureAlgorithms,
        TlsExtensionType.ApplicationLayerProtocolNegotiation, TlsExtensionType.SupportedVersions, TlsExtensionType.KeyShare,
    ];

    public static ClientHelloBuilder Client(Random rng)
    {
        var b = new ClientHelloBuilder
        {
            LegacyVersion = rng.Next(4) == 0 ? TlsVersion.Tls10 : TlsVersion.Tls12,
            Random = RandomRandom(rng),
            LegacySessionId = Bytes(rng, rng.Next(3) == 0 ? 0 : rng.Next(33)),
            CipherSuites = Enumerable.Range(0, 1 + rng.Next(40)).Select(_ => (TlsCipherSuite)rng.Next(65536)).ToList(),
            CompressionMethods = Bytes(rng, 1 + rng.Next(3)),
            OmitEmptyExtensionBlock = rng.Next(2) == 0,
        };

        if (rng.Next(4) != 0)
        {
            b.ServerName = HostName(rng);
        }

        if (rng.Next(3) != 0)
        {
            b.ApplicationProtocols = Enumerable.Range(0, 1 + rng.Next(5)).Select(_ => Token(rng, 1 + rng.Next(20))).ToList();
        }

        if (rng.Next(3) != 0)
        {
            b.SupportedVersions = Enumerable.Range(0, 1 + rng.Next(6)).Select(_ => (TlsVersion)(0x0300 + rng.Next(6))).ToList();
        }

        if (rng.Next(3) != 0)
        {
            b.SupportedGroups = Enumerable.Range(0, 1 + rng.Next(8)).Select(_ => (TlsNamedGroup)rng.Next(65536)).ToList();
        }

        if (rng.Next(3) != 0)
        {
            b.SignatureAlgorithms = Enumerable.Range(0, 1 + rng.Next(12)).Select(_ => (TlsSignatureScheme)rng.Next(65536)).ToList();
        }

        if (rng.Next(3) != 0)
        {
            // Distinct groups: RFC 8446 4.2.8 forbids repeating one.
            int shares = rng.Next(4);
            b.KeyShares = Enumerable.Range(0, shares).Select(i => ((TlsNamedGroup)(0x17 + (i * 3)), Bytes(rng, 1 + rng.Next(100)))).ToList();
        }

        // Extra extensions with types that collide with nothing already present.
        var used = new HashSet<ushort>(Typed.Select(t => (ushort)t)) { (ushort)TlsExtensionType.PreSharedKey };
        int extra = rng.Next(4);
        for (int i = 0; i < extra; i++)
        {
            ushort type;
            do
            {
                type = (ushort)rng.Next(65536);
            }
            while (!used.Add(type));

            b.AdditionalExtensions.Add(((TlsExtensionType)type, Bytes(rng, rng.Next(40))));
        }

        if (rng.Next(8) == 0)
        {
            b.AdditionalExtensions.Add((TlsExtensionType.PreSharedKey, Bytes(rng, 1 + rng.Next(40))));
        }

        return b;
    }

    public static ServerHelloBuilder Server(Random rng)
    {
        var b = new ServerHelloBuilder
        {
            Random = RandomRandom(rng),
            LegacySessionIdEcho = Bytes(rng, rng.Next(33)),
            CipherSuite = (TlsCipherSuite)rng.Next(65536),
            CompressionMethod = (byte)rng.Next(2),
            OmitEmptyExtensionBlock = rng.Next(2) == 0,
        };
        if (rng.Next(3) != 0)
        {
            b.SelectedVersion = (TlsVersion)(0x0301 + rng.Next(4));
        }

        switch (rng.Next(3))
        {
            case 0:
                b.KeyShare = ((TlsNamedGroup)rng.Next(65536), Bytes(rng, 1 + rng.Next(97)));
                break;
            case 1:
                b.HelloRetryGroup = (TlsNamedGroup)rng.Next(65536);
                b.Random = TlsRandom.From(TlsRandom.HelloRetryRequestMagic);
                break;
        }

        if (rng.Next(3) == 0)
        {
            b.ApplicationProtocol = Token(rng, 1 + rng.Next(20));
        }

        return b;
    }

    public static string HostName(Random rng)
    {
        int labels = 1 + rng.Next(4);
        return string.Join('.', Enumerable.Range(0, labels).Select(_ => new string(Enumerable.Range(0, 1 + rng.Next(15)).Select(_ => HostChars[rng.Next(HostChars.Length)]).ToArray())));
    }

    public static string Token(Random rng, int length) =>
        new(Enumerable.Range(0, length).Select(_ => (char)rng.Next(0x21, 0x7f)).ToArray());

    public static byte[] Bytes(Random rng, int length)
    {
        byte[] b = new byte[length];
        rng.NextBytes(b);
        return b;
    }

    public static TlsRandom RandomRandom(Random rng) => TlsRandom.From(Bytes(rng, TlsRandom.Length));
}
