namespace Protocols.Ip.Tests;

/// <summary>
/// Real frames captured on this project's Linux machines (Data/*.pcap, made with tcpdump; the
/// hex below is copied from those captures).
/// </summary>
internal static class Frames
{
    // Data/loopback-icmp.pcap: `ping -c1 127.0.0.1` on lo (Linux gives lo an Ethernet header
    // with zero MACs), frame 1: echo request, 84-byte IPv4, DF, TTL 64, ICMP id 10586 seq 1,
    // 56 data bytes: a 16-byte timeval, then 0x10..0x37.
    public static readonly byte[] PingRequest = Convert.FromHexString(
        "000000000000000000000000080045000054e185400040015b217f0000017f00000108001b6d295a0001072b016b00000000eace010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637");

    // Frame 2: the kernel's echo reply (DF clear).
    public static readonly byte[] PingReply = Convert.FromHexString(
        "000000000000000000000000080045000054e186000040019b207f0000017f0000010000236d295a0001072b016b00000000eace010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637");

    // Frame 3: `ping -R`: IHL 15, options NOP + record route (len 39, ptr 8, 9 slots, 127.0.0.1 recorded).
    public static readonly byte[] RecordRouteRequest = Convert.FromHexString(
        "00000000000000000000000008004f00007ce18740004001a9e67f0000017f000001010727087f00000100000000000000000000000000000000000000000000000000000000000000000800aa64295b0001072b016b000000005bd6010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637");

    // Frame 4: its reply: record route (ptr 16, three recorded) + EOL.
    public static readonly byte[] RecordRouteReply = Convert.FromHexString(
        "00000000000000000000000008004f00007ce1880000400175527f0000017f0000010727107f0000017f0000017f000001000000000000000000000000000000000000000000000000000000b264295b0001072b016b000000005bd6010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637");

    // Frame 6: `ping -T tsandaddr` reply: IHL 14, timestamp flag 1, len 36, ptr 29 (three of four entries recorded).
    public static readonly byte[] TimestampReply = Convert.FromHexString(
        "00000000000000000000000008004e000078e18a00004001bcdd7f0000017f00000144241d017f0000010128fbd27f0000010128fbd27f0000010128fbd200000000000000000000575d295c0001072b016b00000000b6dc010000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637");

    // Frame 9: a UDP datagram "hello" to 127.0.0.1:9 drew a port unreachable (TOS 0xc0) quoting
    // the whole 33-byte UDP datagram.
    public static readonly byte[] PortUnreachable = Convert.FromHexString(
        "000000000000000000000000080045c0003de192000040019a6b7f0000017f0000010303ebe50000000045000021539e40004011e92b7f0000017f000001cf0d0009000dfe2068656c6c6f");

    // Data/eth0-arp.pcap: the kernel resolving its gateway 192.0.2.1 from 192.0.2.2.
    public static readonly byte[] ArpRequest = Convert.FromHexString(
        "ffffffffffff02fc000000010806000108000604000102fc00000001c0000202000000000000c0000201");

    public static readonly byte[] ArpReply = Convert.FromHexString(
        "02fc0000000102fc000000050806000108000604000202fc00000005c000020102fc00000001c0000202");

    public static IEnumerable<byte[]> All =>
        [PingRequest, PingReply, RecordRouteRequest, RecordRouteReply, TimestampReply, PortUnreachable, ArpRequest, ArpReply];
}
