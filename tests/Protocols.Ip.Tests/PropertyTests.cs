using System.Buffers.Binary;
using Protocols.Wire;

namespace Protocols.Ip.Tests;

/// <summary>Seeded property tests: round trips, truncation, random and mutated bytes.</summary>
public class PropertyTests
{
    private static Ipv4Address RandomAddress(Random rng) => Ipv4Address.FromUInt32((uint)rng.NextInt64(0, 1L << 32));

    private static MacAddress RandomMac(Random rng)
    {
        var mac = default(MacAddress);
        rng.NextBytes(mac);
        return mac;
    }

    [Fact]
    public void Ipv4_value_bytes_value_round_trip()
    {
        var rng = new Random(791);
        var buffer = new byte[60 + 64];
        for (int i = 0; i < 5000; i++)
        {
            var value = new Ipv4Header
            {
                Version = 4,
                Ihl = (byte)rng.Next(5, 16),
                Dscp = (byte)rng.Next(64),
                Ecn = (byte)rng.Next(4),
                Identification = (ushort)rng.Next(65536),
                Reserved = rng.Next(2) == 1,
                DontFragment = rng.Next(2) == 1,
                MoreFragments = rng.Next(2) == 1,
                FragmentOffset = (ushort)rng.Next(8192),
                Ttl = (byte)rng.Next(256),
                Protocol = (IpProtocol)rng.Next(256),
                HeaderChecksum = (ushort)rng.Next(65536),
                Source = RandomAddress(rng),
                Destination = RandomAddress(rng),
            };
            value.TotalLength = (ushort)rng.Next(value.Ihl * 4, buffer.Length + 1);
            rng.NextBytes(buffer);
            Assert.Equal(20, value.WriteTo(buffer));
            Assert.True(Ipv4Header.TryRead(buffer, out Ipv4Header.Reader r, out WireError error), error.ToString());
            Ipv4Header back = r.ToValue();
            Assert.Equal(
                (value.Version, value.Ihl, value.Dscp, value.Ecn, value.TotalLength, value.Identification, value.Reserved, value.DontFragment,
                    value.MoreFragments, value.FragmentOffset, value.Ttl, value.Protocol, value.HeaderChecksum, value.Source, value.Destination),
                (back.Version, back.Ihl, back.Dscp, back.Ecn, back.TotalLength, back.Identification, back.Reserved, back.DontFragment,
                    back.MoreFragments, back.FragmentOffset, back.Ttl, back.Protocol, back.HeaderChecksum, back.Source, back.Destination));
            Assert.Equal(value.ToString(), back.ToString());
            Assert.Equal(value.Ihl * 4, r.HeaderLength);
            Assert.Equal(value.TotalLength, r.Bytes.Length);
            Assert.Equal(value.TotalLength - (value.Ihl * 4), r.Payload.Length);
        }
    }

    [Fact]
    public void Ethernet_arp_and_icmp_value_bytes_value_round_trip()
    {
        var rng = new Random(826);
        var buffer = new byte[64];
        var again = new byte[64];
        for (int i = 0; i < 3000; i++)
        {
            var eth = new EthernetHeader { Destination = RandomMac(rng), Source = RandomMac(rng), EtherType = (EtherType)rng.Next(65536) };
            eth.WriteTo(buffer);
            EthernetHeader e = EthernetHeader.Read(buffer);
            Assert.Equal((eth.Destination, eth.Source, eth.EtherType), (e.Destination, e.Source, e.EtherType));

            var arp = new ArpPacket
            {
                Operation = (ArpOperation)rng.Next(65536),
                SenderHardwareAddress = RandomMac(rng),
                SenderProtocolAddress = RandomAddress(rng),
                TargetHardwareAddress = RandomMac(rng),
                TargetProtocolAddress = RandomAddress(rng),
            };
            arp.WriteTo(buffer);
            ArpPacket a = ArpPacket.Read(buffer);
            Assert.Equal(
                ((ushort)1, (ushort)0x0800, (byte)6, (byte)4, arp.Operation, arp.SenderHardwareAddress, arp.SenderProtocolAddress, arp.TargetHardwareAddress, arp.TargetProtocolAddress),
                (a.HardwareType, a.ProtocolType, a.HardwareLength, a.ProtocolLength, a.Operation, a.SenderHardwareAddress, a.SenderProtocolAddress, a.TargetHardwareAddress, a.TargetProtocolAddress));

            var icmp = new IcmpHeader { Type = (IcmpType)rng.Next(256), Code = (byte)rng.Next(256), Checksum = (ushort)rng.Next(65536), RestOfHeader = (uint)rng.NextInt64(1L << 32) };
            icmp.WriteTo(buffer);
            IcmpHeader c = IcmpHeader.Read(buffer.AsSpan(0, 8));
            Assert.Equal((icmp.Type, icmp.Code, icmp.Checksum, icmp.RestOfHeader), (c.Type, c.Code, c.Checksum, c.RestOfHeader));

            var echo = new IcmpEchoHeader { Type = (IcmpType)rng.Next(256), Code = (byte)rng.Next(256), Checksum = (ushort)rng.Next(65536), Identifier = (ushort)rng.Next(65536), SequenceNumber = (ushort)rng.Next(65536) };
            echo.WriteTo(buffer);
            IcmpEchoHeader ec = IcmpEchoHeader.Read(buffer.AsSpan(0, 8));
            Assert.Equal((echo.Type, echo.Code, echo.Checksum, echo.Identifier, echo.SequenceNumber), (ec.Type, ec.Code, ec.Checksum, ec.Identifier, ec.SequenceNumber));

            // The typed views read the same 32 bits as the generic header.
            Assert.Equal(((uint)echo.Identifier << 16) | echo.SequenceNumber, IcmpHeader.Read(buffer.AsSpan(0, 8)).RestOfHeader);

            var du = new IcmpDestinationUnreachableHeader { Code = (IcmpUnreachableCode)rng.Next(256), Checksum = (ushort)rng.Next(65536), Unused = (ushort)rng.Next(65536), NextHopMtu = (ushort)rng.Next(65536) };
            du.WriteTo(buffer);
            IcmpDestinationUnreachableHeader d = IcmpDestinationUnreachableHeader.Read(buffer.AsSpan(0, 8));
            Assert.Equal((IcmpType.DestinationUnreachable, du.Code, du.Checksum, du.Unused, du.NextHopMtu), (d.Type, d.Code, d.Checksum, d.Unused, d.NextHopMtu));

            var te = new IcmpTimeExceededHeader { Code = (IcmpTimeExceededCode)rng.Next(256), Checksum = (ushort)rng.Next(65536), Unused = (uint)rng.NextInt64(1L << 32) };
            te.WriteTo(buffer);
            IcmpTimeExceededHeader t = IcmpTimeExceededHeader.Read(buffer.AsSpan(0, 8));
            Assert.Equal((IcmpType.TimeExceeded, te.Code, te.Checksum, te.Unused), (t.Type, t.Code, t.Checksum, t.Unused));

            var rd = new IcmpRedirectHeader { Code = (IcmpRedirectCode)rng.Next(256), Checksum = (ushort)rng.Next(65536), Gateway = RandomAddress(rng) };
            rd.WriteTo(buffer);
            IcmpRedirectHeader r = IcmpRedirectHeader.Read(buffer.AsSpan(0, 8));
            Assert.Equal((IcmpType.Redirect, rd.Code, rd.Checksum, rd.Gateway), (r.Type, r.Code, r.Checksum, r.Gateway));

            var pp = new IcmpParameterProblemHeader { Code = (IcmpParameterProblemCode)rng.Next(256), Checksum = (ushort)rng.Next(65536), Pointer = (byte)rng.Next(256), Unused = (uint)rng.Next(1 << 24) };
            pp.WriteTo(buffer);
            IcmpParameterProblemHeader p = IcmpParameterProblemHeader.Read(buffer.AsSpan(0, 8));
            Assert.Equal((IcmpType.ParameterProblem, pp.Code, pp.Checksum, pp.Pointer, pp.Unused), (p.Type, p.Code, p.Checksum, p.Pointer, p.Unused));
        }

        // Bytes -> value -> bytes is exact for any header whose constants hold.
        for (int i = 0; i < 3000; i++)
        {
            rng.NextBytes(buffer);
            Assert.True(EthernetHeader.TryRead(buffer, out EthernetHeader.Reader er, out _));
            Array.Clear(again);
            er.ToValue().WriteTo(again);
            Assert.Equal(buffer.AsSpan(0, 14).ToArray(), again.AsSpan(0, 14).ToArray());
            Assert.True(IcmpHeader.TryRead(buffer, out IcmpHeader.Reader ir, out _));
            ir.ToValue().WriteTo(again);
            Assert.Equal(buffer.AsSpan(0, 8).ToArray(), again.AsSpan(0, 8).ToArray());
        }
    }

    /// <summary>Whole packets built with <see cref="Ipv4Packet.Write"/> and random options read back with a valid checksum.</summary>
    [Fact]
    public void Built_packets_round_trip_with_options_and_checksum()
    {
        var rng = new Random(1191);
        var packet = new byte[60 + 100];
        var options = new byte[40];
        for (int i = 0; i < 2000; i++)
        {
            var w = new Ipv4OptionWriter(options);
            int nops = rng.Next(0, 4);
            for (int k = 0; k < nops; k++)
            {
                w.WriteNoOperation();
            }

            if (rng.Next(2) == 0)
            {
                w.WriteRecordRoute(rng.Next(1, 8), [RandomAddress(rng)]);
            }

            var payload = new byte[rng.Next(101)];
            rng.NextBytes(payload);
            var header = new Ipv4Header { Ttl = (byte)rng.Next(256), Protocol = IpProtocol.Udp, Identification = (ushort)rng.Next(65536), Source = RandomAddress(rng), Destination = RandomAddress(rng) };
            int n = Ipv4Packet.Write(packet, header, w.Written, payload);
            Assert.True(Ipv4Header.TryRead(packet.AsSpan(0, n), out Ipv4Header.Reader r, out WireError error), error.ToString());
            Assert.True(r.VerifyChecksum());
            Assert.Equal(20 + ((w.Length + 3) & ~3), r.HeaderLength);
            Assert.Equal(payload, r.Payload.ToArray());
            Assert.Equal(w.Written.ToArray(), r.Options[..w.Length].ToArray());
            Assert.True(Ipv4OptionReader.Validate(r.Options, out error), error.ToString());
            Assert.Equal(Checksum.PseudoHeaderSum(header.Source, header.Destination, 17, payload.Length), r.PseudoHeaderSum());
        }
    }

    /// <summary>RFC 1624: rewriting the TTL with the incremental update keeps the checksum what a full recompute gives.</summary>
    [Fact]
    public void Ttl_decrement_updates_the_checksum_incrementally()
    {
        byte[] ip = Frames.RecordRouteRequest.AsSpan(14).ToArray();
        for (int ttl = 64; ttl > 0; ttl--)
        {
            var writer = new Ipv4Header.Writer(ip);
            writer.SetTtlUpdatingChecksum((byte)(ttl - 1));
            Assert.True(Ipv4Header.VerifyChecksum(ip));
            Assert.Equal(Ipv4Header.ComputeChecksum(ip), BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(10)));
        }
    }

    public static TheoryData<int> FrameIndexes => new(0, 1, 2, 3, 4, 5, 6, 7);

    /// <summary>Every prefix of every captured frame fails each layer with TooShort, limited by the buffer, naming the field that does not fit.</summary>
    [Theory]
    [MemberData(nameof(FrameIndexes))]
    public void Every_truncation_fails_with_too_short(int index)
    {
        byte[] frame = Frames.All.ElementAt(index);
        for (int n = 0; n < EthernetHeader.FixedLength; n++)
        {
            Assert.False(EthernetHeader.TryRead(frame.AsSpan(0, n), out _, out WireError error));
            AssertTooShort(error, "Ethernet", EthernetHeader.FixedLength, n, FirstMissing(EthernetHeader.Fields, n));
        }

        ReadOnlySpan<byte> l3 = frame.AsSpan(EthernetHeader.FixedLength);
        if (BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == (ushort)EtherType.Arp)
        {
            for (int n = 0; n < ArpPacket.FixedLength; n++)
            {
                Assert.False(ArpPacket.TryRead(l3[..n], out _, out WireError error));
                AssertTooShort(error, "ARP", ArpPacket.FixedLength, n, FirstMissing(ArpPacket.Fields, n));
            }

            return;
        }

        Assert.True(Ipv4Header.TryRead(l3, out Ipv4Header.Reader full, out _));
        int hl = full.HeaderLength, tl = full.TotalLength;
        for (int n = 0; n < tl; n++)
        {
            Assert.False(Ipv4Header.TryRead(l3[..n], out _, out WireError error));
            if (n < Ipv4Header.FixedLength)
            {
                AssertTooShort(error, "IPv4", Ipv4Header.FixedLength, n, FirstMissing(Ipv4Header.Fields, n));
            }
            else if (n < hl)
            {
                AssertTooShort(error, "IPv4", hl, n, "Ihl");
            }
            else
            {
                AssertTooShort(error, "IPv4", tl, n, "TotalLength");
            }
        }

        ReadOnlySpan<byte> icmp = full.Payload;
        for (int n = 0; n < IcmpHeader.FixedLength; n++)
        {
            Assert.False(IcmpHeader.TryRead(icmp[..n], out _, out WireError error));
            AssertTooShort(error, "ICMPv4", IcmpHeader.FixedLength, n, FirstMissing(IcmpHeader.Fields, n));
            Assert.False(IcmpEchoHeader.TryRead(icmp[..n], out _, out error));
            AssertTooShort(error, "ICMPv4", IcmpEchoHeader.FixedLength, n, FirstMissing(IcmpEchoHeader.Fields, n));
        }

        if (icmp[0] == (byte)IcmpType.DestinationUnreachable)
        {
            ReadOnlySpan<byte> quote = icmp[IcmpHeader.FixedLength..];
            int quotedHl = (quote[0] & 0xf) * 4;
            for (int n = 0; n <= quote.Length; n++)
            {
                bool ok = IcmpQuotedDatagram.TryRead(quote[..n], out IcmpQuotedDatagram q, out WireError error);
                if (n < Ipv4Header.FixedLength)
                {
                    Assert.False(ok);
                    AssertTooShort(error, "ICMPv4", Ipv4Header.FixedLength, n, "QuotedDatagram");
                    Assert.Equal(8, error.Offset);
                }
                else if (n < quotedHl)
                {
                    Assert.False(ok);
                    AssertTooShort(error, "IPv4", quotedHl, n, "Ihl");
                }
                else
                {
                    Assert.True(ok, error.ToString());
                    Assert.Equal(n - quotedHl, q.Payload.Length);
                    Assert.Equal(n < quote.Length, q.IsTruncated);
                }
            }
        }
    }

    private static string FirstMissing(IReadOnlyList<WireFieldInfo> fields, int available) =>
        fields.OrderBy(f => f.BitOffset).First(f => f.EndByte > available).Name;

    private static void AssertTooShort(WireError error, string layer, long required, long actual, string field)
    {
        Assert.Equal(WireErrorKind.TooShort, error.Kind);
        Assert.Equal(layer, error.Layer);
        Assert.Equal(required, error.Required);
        Assert.Equal(actual, error.Actual);
        Assert.Equal(LengthSource.Buffer, error.Source);
        Assert.Equal(field, error.Field);
    }

    /// <summary>Tens of thousands of random buffers, biased toward plausible headers, never throw.</summary>
    [Fact]
    public void Random_bytes_never_throw()
    {
        var rng = new Random(792);
        var buffer = new byte[128];
        int deep = 0;
        for (int i = 0; i < 40_000; i++)
        {
            int n = rng.Next(buffer.Length + 1);
            rng.NextBytes(buffer.AsSpan(0, n));
            Span<byte> b = buffer.AsSpan(0, n);
            switch (i % 4)
            {
                case 0:
                    _ = Decode.Frame(b);
                    break;
                case 1:
                    if (n > 0)
                    {
                        b[0] = (byte)(0x40 | (b[0] & 0x0f)); // version 4, random IHL
                    }

                    if (n > 3)
                    {
                        BinaryPrimitives.WriteUInt16BigEndian(b[2..], (ushort)rng.Next(n + 8));
                    }

                    if (n > 9)
                    {
                        b[9] = (byte)IpProtocol.Icmp;
                        b[6] &= 0xe0; // first fragment, so ICMP is decoded
                        b[7] = 0;
                    }

                    string s = Decode.DumpIpv4(b);
                    if (!s.StartsWith("IPv4 error", StringComparison.Ordinal))
                    {
                        deep++;
                    }

                    break;
                case 2:
                    if (n > 0)
                    {
                        b[0] = new byte[] { 0, 3, 5, 8, 11, 12 }[rng.Next(6)];
                    }

                    if (n > 8)
                    {
                        b[8] = (byte)(0x40 | (b[8] & 0x0f));
                    }

                    _ = Decode.DumpIcmp(b);
                    break;
                default:
                    _ = Decode.DumpArp(b);
                    _ = IcmpQuotedDatagram.TryRead(b, out _, out _);
                    break;
            }
        }

        Assert.InRange(deep, 500, 10_000);
    }

    /// <summary>Captured frames with random byte changes, truncations and extensions never throw.</summary>
    [Fact]
    public void Mutated_frames_never_throw()
    {
        var rng = new Random(1122);
        byte[][] frames = Frames.All.ToArray();
        for (int i = 0; i < 20_000; i++)
        {
            byte[] f = frames[rng.Next(frames.Length)];
            byte[] m = new byte[Math.Max(0, f.Length + rng.Next(-20, 21))];
            f.AsSpan(0, Math.Min(f.Length, m.Length)).CopyTo(m);
            int changes = rng.Next(1, 5);
            for (int k = 0; k < changes && m.Length > 0; k++)
            {
                int at = rng.Next(Math.Min(m.Length, 100));
                m[at] = rng.Next(2) == 0 ? (byte)rng.Next(256) : (byte)(m[at] ^ (1 << rng.Next(8)));
            }

            _ = Decode.Dump(m);
        }
    }
}
