using Protocols.Ip;
using Protocols.Ip.Fragmentation;
using Protocols.Wire;

namespace Protocols.Fuzz.Targets;

/// <summary>
/// IPv4 reassembly (RFC 791 3.2) driven by a fuzzed sequence of fragments of four datagrams and
/// clock steps. Fragment data is a known function of the datagram and the offset unless the
/// fragment is marked corrupt, so a datagram built only from clean fragments must come out exactly
/// right; the limits hold after every fragment; the counters agree with the results.
/// </summary>
internal static class ReassemblyTarget
{
    private const int Keys = 4;
    private const int MaxFragments = 2000;
    private static readonly Ipv4Address Source = Ipv4Address.Create(192, 0, 2, 1);
    private static readonly Ipv4Address Destination = Ipv4Address.Create(192, 0, 2, 2);
    private static readonly byte[] Packet = new byte[65536];
    private static readonly byte[] Data = new byte[65536];

    public static void Run(ReadOnlySpan<byte> bytes)
    {
        var input = new FuzzInput(bytes);
        byte config = input.Byte();
        var options = new Ipv4ReassemblerOptions
        {
            MaxDatagrams = 1 + (config & 3),
            MaxBytes = 16L * 1024 << ((config >> 2) & 3),
            MaxRunsPerDatagram = 4 << ((config >> 4) & 3),
            LimitPolicy = (config & 0x40) != 0 ? ReassemblyLimitPolicy.RefuseNew : ReassemblyLimitPolicy.EvictOldest,
        };
        using var reassembler = new Ipv4Reassembler(options);
        Span<bool> clean = stackalloc bool[Keys];
        clean.Fill(true);
        DateTimeOffset now = DateTimeOffset.UnixEpoch.AddYears(50);
        long completedFragments = 0;
        int expiredKeys = 0;
        ExpiredDatagramHandler onExpired = (in ExpiredDatagram e) =>
        {
            Check.True(e.Identification < Keys && e.Source == Source && e.Destination == Destination, $"reassembly: expired datagram {e.Identification} was never sent");
            Check.True(!e.FirstFragmentSeen || e.FirstFragmentData.Length >= 8, $"reassembly: expired first fragment with {e.FirstFragmentData.Length} data bytes");
            expiredKeys |= 1 << e.Identification;
        };

        for (int n = 0; n < MaxFragments && !input.IsEmpty; n++)
        {
            byte control = input.Byte();
            int key = control & 3;
            bool more = (control & 4) != 0;
            bool corrupt = (control & 8) != 0;
            bool withOptions = (control & 0x10) != 0;
            int step = control >> 5;
            int offset = (input.UInt16() & 0x1fff) * 8;
            int length = input.UInt16() % 2048;
            now = step == 7 ? now.AddSeconds(-10) : now.AddSeconds(step * 5);

            // The fragment's bytes: the datagram's content at its offset, or something else.
            length = Math.Min(length, ushort.MaxValue - Ipv4Header.FixedLength - 4);
            Span<byte> data = Data.AsSpan(0, length);
            for (int i = 0; i < length; i++)
            {
                data[i] = (byte)(Content(key, offset + i) ^ (corrupt ? 0x5a : 0));
            }

            var header = new Ipv4Header
            {
                Version = 4,
                Identification = (ushort)key,
                MoreFragments = more,
                FragmentOffset = (ushort)(offset / 8),
                Ttl = 64,
                Protocol = IpProtocol.Udp,
                Source = Source,
                Destination = Destination,
            };
            ReadOnlySpan<byte> ipOptions = withOptions ? [0x94, 0x04, 0x00, 0x00] : []; // RFC 2113 router alert: copied into every fragment
            int total = Ipv4Packet.Write(Packet, header, ipOptions, data);
            Check.True(Ipv4Header.TryRead(Packet.AsSpan(0, total), out Ipv4Header.Reader fragment, out WireError error), $"reassembly: a written fragment does not parse: {error}");

            bool isFragment = more || offset != 0;
            clean[key] &= !corrupt || !isFragment;
            ReassemblyStatus status = reassembler.Offer(fragment, now, out ReassemblyResult result);
            Check.Equal(status, result.Status, "reassembly: status and result");
            switch (status)
            {
                case ReassemblyStatus.Completed:
                    using (ReassembledDatagram whole = result.Datagram!)
                    {
                        Completed(whole, key, !isFragment ? !corrupt : clean[key]);
                    }

                    if (isFragment)
                    {
                        completedFragments++;
                        clean[key] = true;
                    }

                    break;
                case ReassemblyStatus.Dropped:
                    Check.True(result.Reason != ReassemblyDropReason.None && result.Datagram is null, $"reassembly: dropped for {result.Reason}");
                    if (result.Reason != ReassemblyDropReason.Malformed)
                    {
                        clean[key] = true;
                    }

                    break;
                default:
                    Check.True(result.Datagram is null && result.Reason == ReassemblyDropReason.None, "reassembly: incomplete with a datagram or a reason");
                    break;
            }

            // An expired datagram is gone with whatever it held: its key starts over.
            expiredKeys = 0;
            reassembler.Expire(now, onExpired);
            for (int k = 0; k < Keys; k++)
            {
                clean[k] |= (expiredKeys & (1 << k)) != 0;
            }

            Bounds(reassembler, options, now, completedFragments);
        }

        reassembler.Clear();
        Check.True(reassembler.Count == 0 && reassembler.BufferedBytes == 0 && reassembler.NextExpiry is null, "reassembly: Clear left datagrams or buffers");
    }

    private static byte Content(int key, int offset) => (byte)((offset * 31) + (key * 7) + (offset >> 8));

    private static void Completed(ReassembledDatagram whole, int key, bool clean)
    {
        Check.Equal((ushort)key, whole.Identification, "reassembly: identification");
        Check.True(Ipv4Header.TryReadHeader(whole.Header, out Ipv4Header.Reader header, out WireError error), $"reassembly: rebuilt header does not parse: {error}");
        Check.True(!header.MoreFragments && header.FragmentOffset == 0, "reassembly: rebuilt header is still a fragment");
        Check.Equal(whole.TotalLength, (int)header.TotalLength, "reassembly: rebuilt total length");
        Check.True(header.VerifyChecksum(), "reassembly: rebuilt header checksum");
        byte[] copy = new byte[whole.TotalLength];
        Check.Equal(whole.TotalLength, whole.CopyTo(copy), "reassembly: CopyTo length");
        Check.Equal(whole.Header, copy.AsSpan(0, whole.Header.Length), "reassembly: CopyTo header");
        if (clean)
        {
            ReadOnlySpan<byte> payload = whole.Payload;
            for (int i = 0; i < payload.Length; i++)
            {
                Check.True(payload[i] == Content(key, i), $"reassembly: datagram {key} byte {i} is {payload[i]}, sent {Content(key, i)}");
            }
        }
    }

    private static void Bounds(Ipv4Reassembler reassembler, Ipv4ReassemblerOptions options, DateTimeOffset now, long completed)
    {
        Check.True(reassembler.Count <= options.MaxDatagrams, $"reassembly: {reassembler.Count} datagrams held, limit {options.MaxDatagrams}");
        Check.True(reassembler.BufferedBytes <= options.MaxBytes, $"reassembly: {reassembler.BufferedBytes} bytes held, limit {options.MaxBytes}");
        Check.Equal(reassembler.Count == 0, reassembler.NextExpiry is null, "reassembly: next expiry with no datagram");
        Check.True(reassembler.NextExpiry is null || reassembler.NextExpiry > now, $"reassembly: next expiry {reassembler.NextExpiry} not after Expire({now})");
        ReassemblyCounters counters = reassembler.Counters;
        Check.Equal(reassembler.Count, counters.CurrentDatagrams, "reassembly: current datagrams counter");
        Check.Equal(reassembler.BufferedBytes, counters.CurrentBytes, "reassembly: current bytes counter");
        Check.Equal(completed, counters.DatagramsReassembled, "reassembly: reassembled counter");
    }
}
