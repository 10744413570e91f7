using System.Text;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Ipv6;

/// <summary>Seeded property tests of the IPv6 codecs: value -> bytes -> value round trips, truncation, random bytes.</summary>
public class Ipv6PropertyTests
{
    private static Ipv6Address RandomAddress(Random rng)
    {
        var a = default(Ipv6Address);
        rng.NextBytes(a);
        return a;
    }

    [Fact]
    public void Ipv6_header_round_trips_every_field()
    {
        var rng = new Random(8200);
        var buffer = new byte[40 + 200];
        for (int i = 0; i < 5000; i++)
        {
            var value = new Ipv6Header
            {
                Version = 6,
                TrafficClass = (byte)rng.Next(256),
                FlowLabel = (uint)rng.Next(1 << 20),
                PayloadLength = (ushort)rng.Next(201),
                NextHeader = (IpProtocol)rng.Next(256),
                HopLimit = (byte)rng.Next(256),
                Source = RandomAddress(rng),
                Destination = RandomAddress(rng),
            };
            rng.NextBytes(buffer);
            Assert.Equal(40, value.WriteTo(buffer));
            Assert.True(Ipv6Header.TryRead(buffer, out Ipv6Header.Reader r, out WireError error), error.ToString());
            Ipv6Header back = r.ToValue();
            Assert.Equal(
                (value.Version, value.TrafficClass, value.FlowLabel, value.PayloadLength, value.NextHeader, value.HopLimit, value.Source, value.Destination),
                (back.Version, back.TrafficClass, back.FlowLabel, back.PayloadLength, back.NextHeader, back.HopLimit, back.Source, back.Destination));
            Assert.Equal(value.ToString(), back.ToString());
            Assert.Equal(40 + value.PayloadLength, r.Bytes.Length);

            // Every truncation of the header fails cleanly.
            int cut = rng.Next(40);
            Assert.False(Ipv6Header.TryRead(buffer.AsSpan(0, cut), out _, out WireError tooShort));
            Assert.Equal(WireErrorKind.TooShort, tooShort.Kind);
        }
    }

    [Fact]
    public void Extension_and_ndp_headers_round_trip_their_bit_fields()
    {
        var rng = new Random(4861);
        var buffer = new byte[64];
        for (int i = 0; i < 3000; i++)
        {
            var fragment = new Ipv6FragmentHeader
            {
                NextHeader = (IpProtocol)rng.Next(256),
                Reserved = (byte)rng.Next(256),
                FragmentOffset = (ushort)rng.Next(8192),
                Res = (byte)rng.Next(4),
                MoreFragments = rng.Next(2) == 1,
                Identification = (uint)rng.NextInt64(1L << 32),
            };
            fragment.WriteTo(buffer);
            Ipv6FragmentHeader f = Ipv6FragmentHeader.Read(buffer);
            Assert.Equal((fragment.NextHeader, fragment.Reserved, fragment.FragmentOffset, fragment.Res, fragment.MoreFragments, fragment.Identification),
                (f.NextHeader, f.Reserved, f.FragmentOffset, f.Res, f.MoreFragments, f.Identification));

            var ra = new NdpRouterAdvertisementHeader
            {
                Code = 0,
                CurHopLimit = (byte)rng.Next(256),
                ManagedAddressConfiguration = rng.Next(2) == 1,
                OtherConfiguration = rng.Next(2) == 1,
                Flags = (byte)rng.Next(64),
                RouterLifetime = (ushort)rng.Next(65536),
                ReachableTime = (uint)rng.NextInt64(1L << 32),
                RetransTimer = (uint)rng.NextInt64(1L << 32),
            };
            ra.WriteTo(buffer);
            NdpRouterAdvertisementHeader a = NdpRouterAdvertisementHeader.Read(buffer);
            Assert.Equal((Icmpv6Type.RouterAdvertisement, ra.CurHopLimit, ra.ManagedAddressConfiguration, ra.OtherConfiguration, ra.Flags, ra.RouterLifetime, ra.ReachableTime, ra.RetransTimer),
                (a.Type, a.CurHopLimit, a.ManagedAddressConfiguration, a.OtherConfiguration, a.Flags, a.RouterLifetime, a.ReachableTime, a.RetransTimer));

            var na = new NdpNeighborAdvertisementHeader
            {
                Router = rng.Next(2) == 1,
                Solicited = rng.Next(2) == 1,
                Override = rng.Next(2) == 1,
                Reserved = (uint)rng.Next(1 << 29),
                TargetAddress = RandomAddress(rng),
            };
            na.WriteTo(buffer);
            NdpNeighborAdvertisementHeader n = NdpNeighborAdvertisementHeader.Read(buffer);
            Assert.Equal((na.Router, na.Solicited, na.Override, na.Reserved, na.TargetAddress), (n.Router, n.Solicited, n.Override, n.Reserved, n.TargetAddress));

            var pi = new NdpPrefixInformationOption
            {
                PrefixLength = (byte)rng.Next(129),
                OnLink = rng.Next(2) == 1,
                Autonomous = rng.Next(2) == 1,
                Reserved1 = (byte)rng.Next(64),
                ValidLifetime = (uint)rng.NextInt64(1L << 32),
                PreferredLifetime = (uint)rng.NextInt64(1L << 32),
                Prefix = RandomAddress(rng),
            };
            pi.WriteTo(buffer);
            NdpPrefixInformationOption p = NdpPrefixInformationOption.Read(buffer);
            Assert.Equal((pi.PrefixLength, pi.OnLink, pi.Autonomous, pi.Reserved1, pi.ValidLifetime, pi.PreferredLifetime, pi.Prefix),
                (p.PrefixLength, p.OnLink, p.Autonomous, p.Reserved1, p.ValidLifetime, p.PreferredLifetime, p.Prefix));

            var query = new Mldv2QueryHeader
            {
                MaximumResponseCode = (ushort)rng.Next(65536),
                MulticastAddress = RandomAddress(rng),
                Flags = (byte)rng.Next(16),
                SuppressRouterProcessing = rng.Next(2) == 1,
                Qrv = (byte)rng.Next(8),
                Qqic = (byte)rng.Next(256),
                NumberOfSources = (ushort)rng.Next(65536),
            };
            query.WriteTo(buffer);
            Mldv2QueryHeader q = Mldv2QueryHeader.Read(buffer);
            Assert.Equal((query.MaximumResponseCode, query.MulticastAddress, query.Flags, query.SuppressRouterProcessing, query.Qrv, query.Qqic, query.NumberOfSources),
                (q.MaximumResponseCode, q.MulticastAddress, q.Flags, q.SuppressRouterProcessing, q.Qrv, q.Qqic, q.NumberOfSources));
        }
    }

    [Fact]
    public void Random_bytes_after_an_ipv6_header_never_throw()
    {
        var rng = new Random(4443);
        var buffer = new byte[300];
        var sb = new StringBuilder();
        for (int i = 0; i < 30_000; i++)
        {
            int length = rng.Next(buffer.Length);
            rng.NextBytes(buffer);
            if (length >= 8)
            {
                // Mostly well-formed fixed headers so the random bytes reach the inner codecs.
                buffer[0] = (byte)((buffer[0] & 0x0f) | 0x60);
                buffer[4] = 0;
                buffer[5] = (byte)Math.Max(0, length - 40);
                buffer[6] = (byte)(rng.Next(4) switch
                {
                    0 => (int)IpProtocol.Icmpv6,
                    1 => (int)IpProtocol.HopByHop,
                    2 => (int)IpProtocol.Ipv6Fragment,
                    _ => buffer[6],
                });
                if (length > 40 && rng.Next(2) == 0)
                {
                    buffer[40] = (byte)(128 + rng.Next(16)); // an informational / NDP / MLD type
                }
            }

            sb.Clear();
            Decode.Ipv6(buffer.AsSpan(0, length), 0, sb, annotations: [.. Array.Empty<HexAnnotation>()]);
            _ = Icmpv6QuotedPacket.TryRead(buffer.AsSpan(0, length), out _, out _);
            _ = NdpOptionReader.Validate(buffer.AsSpan(0, length), out _);
        }
    }
}
