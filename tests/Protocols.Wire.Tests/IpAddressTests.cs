using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Protocols.Wire.Tests;

public class Ipv6AddressTests
{
    // RFC 5952 4 and 5: the canonical text of each address (the left column is any valid text of it).
    [Theory]
    [InlineData("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1")]           // 4.1 leading zeros, 4.2.1 longest run
    [InlineData("2001:db8:0:0:0:0:2:1", "2001:db8::2:1")]
    [InlineData("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1")]                      // 4.2.2 one zero group stays
    [InlineData("2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1")]
    [InlineData("2001:0:0:1:0:0:0:1", "2001:0:0:1::1")]                               // 4.2.3 the longest run
    [InlineData("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1")]                         // 4.2.3 the first of equal runs
    [InlineData("2001:DB8::AbCd", "2001:db8::abcd")]                                  // 4.3 lower case
    [InlineData("0:0:0:0:0:0:0:0", "::")]
    [InlineData("0:0:0:0:0:0:0:1", "::1")]
    [InlineData("1:0:0:0:0:0:0:0", "1::")]
    [InlineData("fe80::0:0:1", "fe80::1")]
    [InlineData("ff02::1:ff00:1", "ff02::1:ff00:1")]
    [InlineData("0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1")]                      // 5 IPv4-mapped
    [InlineData("::ffff:192.0.2.1", "::ffff:192.0.2.1")]
    [InlineData("::ffff:0:192.0.2.1", "::ffff:0:192.0.2.1")]                          // 5 IPv4-translated (RFC 2765)
    [InlineData("::192.0.2.1", "::192.0.2.1")]                                        // 5 IPv4-compatible (deprecated)
    [InlineData("::0.0.0.2", "::2")]                                                  // not "::0.0.0.2": like ::1
    [InlineData("64:ff9b::192.0.2.33", "64:ff9b::c000:221")]                          // a prefix not known from the address alone
    [InlineData("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8")]
    [InlineData("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304")]
    [InlineData("1::8", "1::8")]
    [InlineData("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]
    public void Formats_the_rfc_5952_canonical_text(string text, string canonical)
    {
        Assert.True(Ipv6Address.TryParse(text, out Ipv6Address address));
        Assert.Equal(canonical, address.ToString());
        Assert.Equal(IPAddress.Parse(text).GetAddressBytes(), ((ReadOnlySpan<byte>)address).ToArray());
        Assert.Equal(address, Ipv6Address.Parse(canonical));
    }

    [Theory]
    [InlineData("")]
    [InlineData(":")]
    [InlineData(":::")]
    [InlineData("1")]
    [InlineData("1:2:3:4:5:6:7")]          // too few groups without ::
    [InlineData("1:2:3:4:5:6:7:8:9")]      // too many
    [InlineData("1:2:3:4::5:6:7:8")]       // :: standing for no group
    [InlineData("1::2::3")]                // two ::
    [InlineData(":1::2")]                  // a single leading colon
    [InlineData("1::2:")]                  // a single trailing colon
    [InlineData("1:")]
    [InlineData(":1")]
    [InlineData("12345::")]                // five digits
    [InlineData("g::1")]
    [InlineData("::ffff:1.2.3")]
    [InlineData("::ffff:1.2.3.256")]
    [InlineData("::1.2.3.4:5")]            // IPv4 part not last
    [InlineData("1:2:3:4:5:6:7:1.2.3.4")]  // IPv4 part takes two groups: nine
    [InlineData("fe80::1%eth0")]           // zone indexes are not addresses
    [InlineData("[::1]")]
    [InlineData(" ::1")]
    [InlineData("10.0.0.1")]
    public void Rejects_what_is_not_an_address(string text)
    {
        Assert.False(Ipv6Address.TryParse(text, out Ipv6Address address));
        Assert.Equal(Ipv6Address.Any, address);
        Assert.Throws<FormatException>(() => Ipv6Address.Parse(text));
    }

    [Fact]
    public void Random_addresses_round_trip_and_agree_with_system_net()
    {
        var random = new Random(5952);
        var buffer = new byte[16];
        for (int i = 0; i < 20_000; i++)
        {
            random.NextBytes(buffer);

            // Zero some groups so that runs of every length and position occur.
            int zeroMask = random.Next(256);
            for (int g = 0; g < 8; g++)
            {
                if ((zeroMask & (1 << g)) != 0)
                {
                    buffer[g * 2] = buffer[(g * 2) + 1] = 0;
                }
            }

            var address = Ipv6Address.Create(buffer);
            string text = address.ToString();
            Assert.True(Ipv6Address.TryParse(text, out Ipv6Address back), text);
            Assert.Equal(address, back);
            Assert.Equal(buffer, IPAddress.Parse(text).GetAddressBytes());
            Assert.Equal(text, text.ToLowerInvariant());
            Assert.DoesNotContain(":::", text, StringComparison.Ordinal);
            Assert.True(text.Split("::").Length <= 2, text);

            // .NET writes RFC 5952 text too, but it also puts a dotted tail on ISATAP-like
            // addresses; compare where neither form embeds IPv4.
            if (!text.Contains('.', StringComparison.Ordinal) && !new IPAddress(buffer).ToString().Contains('.', StringComparison.Ordinal))
            {
                Assert.Equal(new IPAddress(buffer).ToString(), text);
            }
        }
    }

    // RFC 6943 3.1.1: "010" is 8 to inet_aton and .NET and 10 to a decimal reader, so no part may have a
    // leading zero, in dotted quads and in the dotted tail of IPv6 text alike.
    [Theory]
    [InlineData("010.0.0.1")]
    [InlineData("0.040.0.1")]
    [InlineData("0.2.09.2")]
    [InlineData("00.0.0.1")]
    [InlineData("::00.0.0.1")]
    [InlineData("::ffff:02.0.2.1")]
    [InlineData("1:8::1.00.0.1")]
    public void Dotted_parts_with_a_leading_zero_are_refused(string text)
    {
        Assert.False(IpAddress.TryParse(text, out _));
        Assert.False(text.Contains(':', StringComparison.Ordinal) ? Ipv6Address.TryParse(text, out _) : Ipv4Address.TryParse(text, out _));
    }

    // byte.TryParse and ushort.TryParse take trailing NUL characters; the parsers read digits only.
    [Theory]
    [InlineData("2.0.2.2\0")]
    [InlineData("0.6.5.\06")]
    [InlineData("::ffff:1.2.3.4\0")]
    public void Trailing_nul_characters_are_refused(string text)
    {
        Assert.False(IpAddress.TryParse(text, out _));
        Assert.False(MacAddress.TryParse("02:00:00:00:00:0\0", out _));
    }

    [Theory]
    [InlineData("0.0.0.0", "0.0.0.0")]
    [InlineData("10.0.0.1", "10.0.0.1")]
    [InlineData("192.0.2.255", "192.0.2.255")]
    [InlineData("::ffff:0.0.0.0", "::ffff:0.0.0.0")]
    public void Dotted_parts_that_are_a_single_zero_are_accepted(string text, string canonical)
    {
        Assert.True(IpAddress.TryParse(text, out IpAddress address));
        Assert.Equal(canonical, address.ToString());
    }

    [Fact]
    public void Random_text_never_throws()
    {
        var random = new Random(4291);
        const string alphabet = "0123456789abcdefABCDEF:.%[]g ";
        var chars = new char[60];
        for (int i = 0; i < 50_000; i++)
        {
            int length = random.Next(chars.Length);
            for (int k = 0; k < length; k++)
            {
                chars[k] = alphabet[random.Next(alphabet.Length)];
            }

            string text = new(chars, 0, length);
            bool ours = Ipv6Address.TryParse(text, out Ipv6Address address);
            bool theirs = IPAddress.TryParse(text, out IPAddress? system) && system.AddressFamily == AddressFamily.InterNetworkV6 && !text.Contains('%', StringComparison.Ordinal) && !text.Contains('[', StringComparison.Ordinal);
            if (ours)
            {
                Assert.True(theirs, text);
                Assert.Equal(system!.GetAddressBytes(), ((ReadOnlySpan<byte>)address).ToArray());
            }
        }
    }

    [Fact]
    public void Classifies_and_exposes_its_parts()
    {
        var a = Ipv6Address.Parse("2001:db8:1:2:3:4:5:6");
        Assert.Equal(0x2001_0db8_0001_0002UL, a.High);
        Assert.Equal(0x0003_0004_0005_0006UL, a.Low);
        Assert.Equal(0x0db8, a.GetGroup(1));
        Assert.Equal(a, Ipv6Address.FromUInt128(a.ToUInt128()));
        Assert.Equal(a, Ipv6Address.Create(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6));
        Assert.True(Ipv6Address.Parse("fe80::1").IsLinkLocal);
        Assert.True(Ipv6Address.Parse("febf::1").IsLinkLocal);
        Assert.False(Ipv6Address.Parse("fec0::1").IsLinkLocal);
        Assert.True(Ipv6Address.AllNodes.IsMulticast);
        Assert.Equal("ff02::2", Ipv6Address.AllRouters.ToString());
        Assert.True(Ipv6Address.Loopback.IsLoopback);
        Assert.True(Ipv6Address.Any.IsUnspecified);
        Ipv6Address mapped = Ipv6Address.MapFromIpv4(Ipv4Address.Parse("192.0.2.1"));
        Assert.True(mapped.IsIpv4Mapped);
        Assert.Equal(Ipv4Address.Parse("192.0.2.1"), mapped.EmbeddedIpv4);
        Assert.Equal("::ffff:192.0.2.1", mapped.ToString());
        Assert.True(Ipv6Address.Parse("2001:db8::1").CompareTo(Ipv6Address.Parse("2001:db8::2")) < 0);
    }

    [Fact]
    public void Formats_into_a_span_without_allocating()
    {
        var a = Ipv6Address.Parse("2001:db8::ffff:1:2");
        Span<char> text = stackalloc char[Ipv6Address.MaxTextLength];
        Assert.True(a.TryFormat(text, out _)); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(a.TryFormat(text, out int n));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal("2001:db8::ffff:1:2", text[..n].ToString());
        Assert.False(a.TryFormat(text[..(n - 1)], out _));
    }
}

public class IpAddressTests
{
    [Fact]
    public void Default_is_the_ipv4_unspecified_address()
    {
        IpAddress none = default;
        Assert.True(none.IsIpv4);
        Assert.True(none.IsAny);
        Assert.Equal(IpAddress.Ipv4Any, none);
        Assert.Equal("0.0.0.0", none.ToString());
        Assert.NotEqual(IpAddress.Ipv4Any, IpAddress.Ipv6Any);
        Assert.True(IpAddress.Ipv6Any.IsAny);
    }

    [Fact]
    public void Families_never_mix()
    {
        IpAddress v4 = Ipv4Address.Parse("192.0.2.1");
        IpAddress mapped = Ipv6Address.Parse("::ffff:192.0.2.1");
        IpAddress compatible = Ipv6Address.Parse("::192.0.2.1");
        Assert.Equal(AddressFamily.InterNetwork, v4.Family);
        Assert.Equal(AddressFamily.InterNetworkV6, mapped.Family);
        Assert.NotEqual(v4, mapped);
        Assert.NotEqual(v4, compatible);
        Assert.NotEqual(v4.GetHashCode(), compatible.GetHashCode());
        Assert.Equal(4, v4.Length);
        Assert.Equal(16, mapped.Length);
        Assert.Throws<InvalidOperationException>(() => v4.ToIpv6());
        Assert.Throws<InvalidOperationException>(() => mapped.ToIpv4());
        Assert.False(v4.TryGetIpv6(out _));
        Assert.True(mapped.TryGetIpv6(out Ipv6Address back));
        Assert.Equal("::ffff:192.0.2.1", back.ToString());
        Assert.True(v4 < mapped);
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("2001:db8::2")]
    [InlineData("::")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("fe80::1234:5678:9abc:def0")]
    public void Converts_both_ways_with_system_net(string text)
    {
        IpAddress ours = IpAddress.Parse(text);
        IPAddress theirs = IPAddress.Parse(text);
        Assert.Equal(theirs, ours.ToIPAddress());
        Assert.Equal(theirs, (IPAddress)ours);
        Assert.Equal(ours, IpAddress.FromIPAddress(theirs));
        Assert.Equal(ours, (IpAddress)theirs);
        Assert.Equal(theirs.AddressFamily, ours.Family);
        Assert.Equal(theirs.ToString(), ours.ToString());

        Span<byte> bytes = stackalloc byte[16];
        int n = ours.WriteTo(bytes);
        Assert.Equal(theirs.GetAddressBytes(), bytes[..n].ToArray());
        Assert.Equal(ours, IpAddress.Create(bytes[..n]));
    }

    [Fact]
    public void A_scope_id_is_dropped_and_other_families_refused()
    {
        var scoped = IPAddress.Parse("fe80::1%3");
        Assert.Equal(IpAddress.Parse("fe80::1"), IpAddress.FromIPAddress(scoped));
        Assert.Throws<ArgumentException>(() => IpAddress.Create(new byte[5]));
        Assert.False(IpAddress.TryParse("10.0.0", out _));
        Assert.Throws<FormatException>(() => IpAddress.Parse("nope"));
    }

    [Fact]
    public void Classifies_both_families()
    {
        Assert.True(IpAddress.Parse("127.0.0.9").IsLoopback);
        Assert.True(IpAddress.Parse("::1").IsLoopback);
        Assert.False(IpAddress.Parse("::2").IsLoopback);
        Assert.True(IpAddress.Parse("239.1.2.3").IsMulticast);
        Assert.True(IpAddress.Parse("ff02::1").IsMulticast);
        Assert.False(IpAddress.Parse("10.0.0.1").IsMulticast);
    }

    [Fact]
    public void Comparing_hashing_and_formatting_do_not_allocate()
    {
        IpAddress a = Ipv6Address.Parse("2001:db8::1");
        IpAddress b = Ipv4Address.Parse("10.0.0.1");
        Span<char> text = stackalloc char[Ipv6Address.MaxTextLength];
        int sum = 0;
        _ = a.TryFormat(text, out _) && b.TryFormat(text, out _);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            sum += a.GetHashCode() + (a == b ? 1 : 0) + a.CompareTo(b);
            _ = a.TryFormat(text, out int n) && b.TryFormat(text, out n);
            sum += n;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.NotEqual(0, sum);
    }
}

public class PseudoHeaderTests
{
    [Fact]
    public void Ipv6_pseudo_header_sum_matches_the_rfc_8200_layout()
    {
        var random = new Random(8200);
        var src = new byte[16];
        var dst = new byte[16];
        for (int i = 0; i < 1000; i++)
        {
            random.NextBytes(src);
            random.NextBytes(dst);
            int length = random.Next(0, 1 << 20);
            byte next = (byte)random.Next(256);

            // RFC 8200 8.1: source, destination, 32-bit upper-layer length, 3 zero bytes, next header.
            var pseudo = new byte[40];
            src.CopyTo(pseudo, 0);
            dst.CopyTo(pseudo, 16);
            BinaryPrimitives.WriteInt32BigEndian(pseudo.AsSpan(32), length);
            pseudo[39] = next;
            uint expected = Checksum.Fold(Checksum.Sum(pseudo));

            uint ours = Checksum.PseudoHeaderSum(Ipv6Address.Create(src), Ipv6Address.Create(dst), next, length);
            Assert.Equal(expected, Checksum.Fold(ours));
            Assert.Equal(expected, Checksum.Fold(Checksum.PseudoHeaderSum((IpAddress)Ipv6Address.Create(src), Ipv6Address.Create(dst), next, length)));
        }
    }

    [Fact]
    public void The_family_neutral_sum_is_the_ipv4_one_for_ipv4()
    {
        var s = Ipv4Address.Parse("10.0.0.1");
        var d = Ipv4Address.Parse("10.0.0.2");
        Assert.Equal(Checksum.PseudoHeaderSum(s, d, 6, 1234), Checksum.PseudoHeaderSum((IpAddress)s, (IpAddress)d, 6, 1234));
        Assert.Throws<ArgumentException>(() => Checksum.PseudoHeaderSum((IpAddress)s, (IpAddress)Ipv6Address.Loopback, 6, 1));
    }
}
