using Protocols.Ip.Fragmentation;
using Protocols.Wire;
using static Protocols.Ip.Tests.Fragmentation.FragTestKit;

namespace Protocols.Ip.Tests.Fragmentation;

public class FragmenterTests
{
    /// <summary>Checks the RFC 791 3.2 shape of a fragment list and returns the payload bytes stitched by offset.</summary>
    private static byte[] CheckShape(List<byte[]> fragments, int mtu, int baseOffset, bool lastMore, int payloadLength)
    {
        var stitched = new byte[payloadLength];
        int expectedOffset = baseOffset;
        for (int i = 0; i < fragments.Count; i++)
        {
            byte[] f = fragments[i];
            Assert.True(f.Length <= mtu, $"fragment {i} is {f.Length} > MTU {mtu}");
            Assert.True(Ipv4Header.TryRead(f, out Ipv4Header.Reader r, out WireError e), e.ToString());
            Assert.Equal(f.Length, r.TotalLength);
            Assert.True(r.VerifyChecksum());
            bool last = i == fragments.Count - 1;
            Assert.Equal(last ? lastMore : true, r.MoreFragments);
            Assert.Equal(expectedOffset, r.FragmentOffset * 8);
            if (!last)
            {
                Assert.Equal(0, r.Payload.Length % 8);
            }

            r.Payload.CopyTo(stitched.AsSpan(expectedOffset - baseOffset));
            expectedOffset += r.Payload.Length;
        }

        Assert.Equal(baseOffset + payloadLength, expectedOffset);
        return stitched;
    }

    [Theory]
    [InlineData(68)]
    [InlineData(576)]
    [InlineData(1280)]
    [InlineData(1500)]
    [InlineData(9000)]
    public void Fragments_fit_the_mtu_and_carry_the_payload_in_8_byte_units(int mtu)
    {
        var random = new Random(mtu);
        foreach (int size in new[] { 0, 1, 7, 8, 47, 48, 49, mtu - 20, mtu - 19, mtu, 3000, 8972, 65515 })
        {
            byte[] payload = Payload(random, size);
            Ipv4Header h = Header((ushort)size);
            List<byte[]> fragments = Fragment(h, default, payload, mtu);
            int chunk = (mtu - 20) & ~7;
            int expectedCount = size + 20 <= mtu ? 1 : (size + chunk - 1) / chunk;
            Assert.Equal(expectedCount, fragments.Count);
            Assert.Equal(payload, CheckShape(fragments, mtu, 0, false, size));
            foreach (byte[] f in fragments)
            {
                Assert.True(Ipv4Header.TryRead(f, out Ipv4Header.Reader r, out _));
                Assert.Equal(h.Identification, r.Identification);
                Assert.Equal(h.Ttl, r.Ttl);
                Assert.Equal(h.Dscp, r.Dscp);
                Assert.Equal(h.Ecn, r.Ecn);
                Assert.Equal(h.Protocol, r.Protocol);
                Assert.Equal(h.Source, r.Source);
                Assert.Equal(h.Destination, r.Destination);
                Assert.False(r.DontFragment);
            }
        }
    }

    [Fact]
    public void Fitting_datagram_is_one_packet_identical_to_an_unfragmented_write()
    {
        byte[] payload = Payload(new Random(1), 1480);
        Ipv4Header h = Header(7, dontFragment: true);
        List<byte[]> packets = Fragment(h, default, payload, 1500);
        Assert.Single(packets);
        Assert.Equal(Whole(h, default, payload), packets[0]);
    }

    [Fact]
    public void Fragment_count_matches_rfc791_nfb_arithmetic()
    {
        // MTU 1500, 20-byte header: NFB = 185 -> 1480 bytes per fragment; 3000 bytes -> 1480, 1480, 40.
        List<byte[]> f = Fragment(Header(1), default, new byte[3000], 1500);
        Assert.Equal([1500, 1500, 60], f.Select(p => p.Length));

        // MTU 68: 48 bytes per fragment.
        Assert.Equal(3, Fragment(Header(1), default, new byte[100], 68).Count);
    }

    [Fact]
    public void DontFragment_and_too_big_is_MessageTooBig_with_the_mtu()
    {
        FragmentationStatus s = Ipv4Fragmenter.TryCreate(Header(1, dontFragment: true), default, new byte[1481], 1500, out Ipv4Fragmenter f);
        Assert.Equal(FragmentationStatus.MessageTooBig, s);
        Assert.Equal(1500, f.Mtu);
        Assert.Equal(0, f.FragmentCount);

        int calls = 0;
        FragmentationResult r = Ipv4Fragmenter.Fragment(Header(1, dontFragment: true), default, new byte[2000], 1400, _ => calls++);
        Assert.Equal(new FragmentationResult(FragmentationStatus.MessageTooBig, 0, 1400), r);
        Assert.Equal(0, calls);
    }

    [Fact]
    public void Over_65535_mtu_below_68_and_bad_options_are_statuses_not_exceptions()
    {
        Assert.Equal(FragmentationStatus.DatagramTooLarge, Ipv4Fragmenter.TryCreate(Header(1), default, new byte[65516], 1500, out _));
        Assert.Equal(FragmentationStatus.Success, Ipv4Fragmenter.TryCreate(Header(1), default, new byte[65515], 1500, out _));
        Assert.Equal(FragmentationStatus.DatagramTooLarge, Ipv4Fragmenter.TryCreate(Header(1), new byte[4], new byte[65512], 1500, out _));
        Assert.Equal(FragmentationStatus.MtuTooSmall, Ipv4Fragmenter.TryCreate(Header(1), default, new byte[10], 67, out _));
        Assert.Equal(FragmentationStatus.MtuTooSmall, Ipv4Fragmenter.TryCreate(Header(1), default, new byte[10], -5, out _));
        Assert.Equal(FragmentationStatus.InvalidOptions, Ipv4Fragmenter.TryCreate(Header(1), new byte[41], new byte[10], 1500, out _));

        // A malformed option (length 1) only matters when fragmenting.
        byte[] bad = [0x83, 0x01, 0x00, 0x00];
        Assert.Equal(FragmentationStatus.Success, Ipv4Fragmenter.TryCreate(Header(1), bad, new byte[100], 1500, out _));
        Assert.Equal(FragmentationStatus.InvalidOptions, Ipv4Fragmenter.TryCreate(Header(1), bad, new byte[2000], 1500, out _));

        Assert.Equal(FragmentationStatus.Malformed, Ipv4Fragmenter.TryCreateFromDatagram(new byte[19], 1500, out _));

        // MTUs above 65535 are capped.
        Assert.Equal(FragmentationStatus.Success, Ipv4Fragmenter.TryCreate(Header(1), default, new byte[100], 1 << 20, out Ipv4Fragmenter big));
        Assert.Equal(65535, big.Mtu);
    }

    [Fact]
    public void Destination_too_small_is_a_caller_error()
    {
        Ipv4Fragmenter.TryCreate(Header(1), default, new byte[3000], 1500, out Ipv4Fragmenter f);
        Assert.Equal(1500, f.NextLength);
        bool threw = false;
        try
        {
            f.TryWriteNext(new byte[1499], out _);
        }
        catch (ArgumentException)
        {
            threw = true;
        }

        Assert.True(threw);
    }

    [Fact]
    public void Mtu_68_with_options_copies_only_copied_options_into_later_fragments()
    {
        // LSRR (131, copied), record route (7, not copied), security-like 130 (copied), NOP.
        Span<byte> buffer = stackalloc byte[40];
        var w = new Ipv4OptionWriter(buffer);
        w.WriteRoute(Ipv4OptionKind.LooseSourceRoute, 2, [Ipv4Address.Create(192, 0, 2, 1), Ipv4Address.Create(192, 0, 2, 2)]); // 11
        w.WriteNoOperation();                                                                                                    // 1
        w.WriteRecordRoute(3, []);                                                                                               // 15
        w.WriteOption(130, [1, 2, 3, 4, 5, 6, 7, 8, 9]);                                                                         // 11
        int optionsLength = w.PadToWord();
        byte[] options = buffer[..optionsLength].ToArray();
        Assert.Equal(40, optionsLength);

        byte[] payload = Payload(new Random(68), 200);
        List<byte[]> fragments = Fragment(Header(9), options, payload, 68);

        // First: 60-byte header, 8 bytes of data. Later: 20 + 11 + 11 = 42 -> padded 44, 24 bytes of data.
        Assert.True(Ipv4Header.TryRead(fragments[0], out Ipv4Header.Reader first, out _));
        Assert.Equal(60, first.HeaderLength);
        Assert.Equal(8, first.Payload.Length);
        Assert.Equal(options, first.Options.ToArray());

        byte[] expectedLater = [.. options.AsSpan(0, 11), .. options.AsSpan(27, 11), 0, 0];
        for (int i = 1; i < fragments.Count; i++)
        {
            Assert.True(Ipv4Header.TryRead(fragments[i], out Ipv4Header.Reader r, out _));
            Assert.Equal(44, r.HeaderLength);
            Assert.Equal(expectedLater, r.Options.ToArray());
            Assert.True(Ipv4OptionReader.Validate(r.Options, out _));
            int kinds = 0;
            foreach (Ipv4Option o in r.GetOptions())
            {
                Assert.True(o.Copied || o.Kind == Ipv4OptionKind.EndOfOptionList);
                kinds++;
            }

            Assert.Equal(3, kinds);
        }

        Assert.Equal(payload, CheckShape(fragments, 68, 0, false, payload.Length));

        // And they reassemble to the original datagram (first fragment's options).
        using var r2 = new Ipv4Reassembler();
        Assert.Equal(Whole(Header(9), options, payload), OfferAll(r2, fragments, T0));
    }

    [Fact]
    public void No_copied_options_means_later_fragments_have_a_bare_header()
    {
        Span<byte> buffer = stackalloc byte[40];
        var w = new Ipv4OptionWriter(buffer);
        w.WriteRecordRoute(9, []); // 39 bytes, not copied
        byte[] options = buffer[..w.PadToWord()].ToArray();
        List<byte[]> fragments = Fragment(Header(3), options, new byte[100], 68);
        Assert.Equal(60, (fragments[0][0] & 0x0f) * 4);
        Assert.All(fragments.Skip(1), f => Assert.Equal(0x45, f[0]));
    }

    [Fact]
    public void Refragmenting_a_fragment_keeps_its_offset_and_MF()
    {
        var random = new Random(42);
        byte[] payload = Payload(random, 5000);
        Ipv4Header h = Header(77);
        List<byte[]> firstHop = Fragment(h, default, payload, 1500);
        Assert.Equal(4, firstHop.Count);

        var secondHop = new List<byte[]>();
        foreach (byte[] f in firstHop)
        {
            Assert.Equal(FragmentationStatus.Success, Ipv4Fragmenter.TryCreateFromDatagram(f, 576, out Ipv4Fragmenter again));
            List<byte[]> pieces = Drain(ref again);
            Assert.True(Ipv4Header.TryRead(f, out Ipv4Header.Reader original, out _));
            CheckShape(pieces, 576, original.FragmentOffset * 8, original.MoreFragments, original.Payload.Length);
            secondHop.AddRange(pieces);
        }

        // The last piece of a middle fragment keeps MF = 1; only the very last has MF = 0.
        Assert.Equal(1, secondHop.Count(p => (p[6] & 0x20) == 0));
        Assert.Equal(payload, CheckShape(secondHop, 576, 0, false, payload.Length));

        using var r = new Ipv4Reassembler();
        var shuffled = secondHop.ToList();
        Shuffle(random, shuffled);
        Assert.Equal(Whole(h, default, payload), OfferAll(r, shuffled, T0));
    }

    [Fact]
    public void Callback_forms_write_every_fragment()
    {
        byte[] payload = Payload(new Random(5), 4000);
        var seen = new List<byte[]>();
        FragmentationResult result = Ipv4Fragmenter.Fragment(Header(5), default, payload, 1500, p => seen.Add(p.ToArray()));
        Assert.Equal(new FragmentationResult(FragmentationStatus.Success, 3, 1500), result);
        Assert.Equal(Fragment(Header(5), default, payload, 1500), seen);

        var withState = new List<byte[]>();
        result = Ipv4Fragmenter.Fragment(Header(5), default, payload, 1500, withState, static (p, list) => list.Add(p.ToArray()));
        Assert.True(result.IsSuccess);
        Assert.Equal(seen, withState);
    }

    [Fact]
    public void Cursor_allocates_nothing()
    {
        byte[] payload = new byte[20000];
        byte[] options = [0x83, 0x07, 0x04, 10, 0, 0, 1, 0x01];
        byte[] buffer = new byte[1500];
        Ipv4Header h = Header(1);
        int Run()
        {
            int n = 0;
            Ipv4Fragmenter.TryCreate(h, options, payload, 1500, out Ipv4Fragmenter f);
            while (f.TryWriteNext(buffer, out int written))
            {
                n += written;
            }

            return n;
        }

        Run();
        long before = GC.GetAllocatedBytesForCurrentThread();
        int total = 0;
        for (int i = 0; i < 100; i++)
        {
            total += Run();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(total > 100 * 20000);
    }
}
