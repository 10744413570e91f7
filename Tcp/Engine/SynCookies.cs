using System.Buffers.Binary;
using System.Security.Cryptography;
using Protocols.Wire;

namespace Protocols.Tcp.Engine;

/// <summary>
/// SYN cookies (RFC 4987 3.6): when a listener's SYN queue is full it answers a SYN without
/// keeping any state, choosing as its ISN a cookie that encodes what it would have stored,
/// and rebuilds the connection from the ACK that completes the handshake if that ACK
/// acknowledges a cookie this listener could have issued recently.
/// </summary>
/// <remarks>
/// <para>The cookie, before whitening, packs 32 bits as RFC 4987 3.6 describes for the
/// classic scheme:</para>
/// <list type="table">
/// <item><term>bits 31-27</term><description>a time counter: the 64-second slot the SYN arrived
/// in, modulo 32 (<see cref="SlotMicroseconds"/>).</description></item>
/// <item><term>bits 26-25</term><description>an index into <see cref="MssTable"/>: the largest
/// entry not above the client's MSS.</description></item>
/// <item><term>bits 24-0</term><description>25 bits of SipHash-2-4 over the 4-tuple, the client's
/// ISN, the full (unreduced) slot number and the MSS index, under the listener's secret. The
/// index is hashed too, so a client holding a genuine cookie cannot change the MSS it claims
/// by editing those two bits (Linux's cookies do not authenticate the MSS index).</description></item>
/// </list>
/// <para>The packed value is then added to a second keyed hash of the 4-tuple and the client's
/// ISN (the way Linux's cookie_hash is added in), so the counter and the MSS do not show in
/// clear and cookies for different clients look unrelated. The returning ACK carries
/// cookie + 1; subtracting that second hash recovers the packed value.</para>
/// <para>Validation accepts the current slot and the <see cref="MaxAgeSlots"/> slots before it
/// (a cookie lives between 128 and 192 seconds), rejects later or older slots, and rejects
/// the ACK unless all 25 hash bits match. A random ACK passes with probability
/// (MaxAgeSlots + 1) / 32 x 2^-25, about 2^-28.4. A cookie from exactly 32 slots ago aliases to
/// the current counter but fails the hash, which covers the whole slot number.</para>
/// <para>What the 32 bits cannot carry: the SYN's window scale and SACK-permitted options.
/// When the SYN also carried Timestamps (RFC 7323), <see cref="EncodeOptionsInTsVal"/> puts
/// them in the low 5 bits of the SYN-ACK's TSval, and <see cref="DecodeOptionsFromTsEcr"/>
/// reads them back from the TSecr of the returning ACK, as Linux does. Without timestamps
/// the rebuilt connection runs with neither option (the documented cost of RFC 4987 3.6).
/// Those bits are not authenticated: a client can only misstate its own options.</para>
/// <para>Time: <c>nowMicros</c> is microseconds on the stack's monotonic clock. Pure: no clock
/// reads, no allocation, no mutable state.</para>
/// </remarks>
public sealed class SynCookies
{
    /// <summary>The length of a time slot: 64 seconds.</summary>
    public const long SlotMicroseconds = 64_000_000;

    /// <summary>How many slots before the current one are still accepted.</summary>
    public const int MaxAgeSlots = 2;

    /// <summary>The secret's length: a 128-bit SipHash key.</summary>
    public const int SecretLength = 16;

    private const int CounterShift = 27;
    private const uint CounterMask = 0x1f;
    private const int MssShift = 25;
    private const uint MssMask = 0x3;
    private const uint HashMask = (1u << MssShift) - 1;

    // The longest hash input: the 4-tuple, the client's ISN, the 64-bit slot number, the MSS index.
    private const int MaxInputLength = TcpFourTuple.MaxEncodedLength + 4 + 8 + 1;

    private readonly SipHash _hash;

    /// <summary>
    /// The MSS values a cookie can carry over IPv4, those Linux uses (net/ipv4/syncookies.c):
    /// the RFC 9293 3.7.1 default of 536, a common tunnel MSS, and the two Ethernet cases
    /// with and without 20 bytes of TCP options.
    /// </summary>
    /// <remarks>A view of a static array: a collection expression returned as a span would
    /// allocate a fresh array on every access.</remarks>
    public static ReadOnlySpan<ushort> MssTable => s_mssTable;

    /// <summary>
    /// The MSS values a cookie can carry over IPv6, those Linux uses (net/ipv6/syncookies.c): MTUs
    /// of 1280 (the IPv6 minimum), 1480 (a tunnel), 1500 and 9000, less 60 bytes of headers.
    /// </summary>
    public static ReadOnlySpan<ushort> MssTableIpv6 => s_mssTable6;

    private static readonly ushort[] s_mssTable = [536, 1300, 1440, 1460];
    private static readonly ushort[] s_mssTable6 = [1220, 1420, 1440, 8940];

    /// <summary>A cookie generator under a given 16-byte secret (tests pass a fixed one).</summary>
    /// <exception cref="ArgumentException">The secret is not 16 bytes.</exception>
    public SynCookies(ReadOnlySpan<byte> secret)
    {
        if (secret.Length != SecretLength)
        {
            throw new ArgumentException($"The SYN cookie secret is {SecretLength} bytes.", nameof(secret));
        }

        _hash = new SipHash(secret);
    }

    /// <summary>A cookie generator under a fresh random secret from the operating system's CSPRNG.</summary>
    public static SynCookies CreateRandom()
    {
        Span<byte> secret = stackalloc byte[SecretLength];
        RandomNumberGenerator.Fill(secret);
        return new SynCookies(secret);
    }

    /// <summary>
    /// The cookie to send as the ISN of the SYN-ACK answering a SYN.
    /// </summary>
    /// <param name="tuple">The connection's 4-tuple from the listener's point of view.</param>
    /// <param name="clientIsn">The SYN's sequence number.</param>
    /// <param name="mss">The client's MSS option (536 when it sent none, RFC 9293 3.7.1).</param>
    /// <param name="nowMicros">Microseconds on the stack's monotonic clock.</param>
    /// <param name="encodedMss">The MSS the cookie carries: the largest <see cref="MssTable"/> (for
    /// IPv6 <see cref="MssTableIpv6"/>) entry not above <paramref name="mss"/>, or the smallest when
    /// <paramref name="mss"/> is smaller (every IPv4 host accepts 576-byte datagrams, RFC 1122 3.3.3;
    /// every IPv6 link 1280-byte packets, RFC 8200 5). Use it as the send MSS.</param>
    public uint Create(in TcpFourTuple tuple, uint clientIsn, ushort mss, long nowMicros, out ushort encodedMss)
    {
        ReadOnlySpan<ushort> table = tuple.RemoteAddress.IsIpv6 ? MssTableIpv6 : MssTable;
        uint index = (uint)table.Length - 1;
        while (index > 0 && table[(int)index] > mss)
        {
            index--;
        }

        encodedMss = table[(int)index];
        long slot = Slot(nowMicros);
        uint packed = ((uint)slot & CounterMask) << CounterShift
            | index << MssShift
            | (Hash(tuple, clientIsn, slot, index) & HashMask);
        return unchecked(Whitening(tuple, clientIsn) + packed);
    }

    /// <summary>
    /// Checks the ACK completing a handshake against the cookie this listener would have sent.
    /// </summary>
    /// <param name="tuple">The connection's 4-tuple from the listener's point of view.</param>
    /// <param name="clientIsn">The client's ISN: the ACK segment's SEG.SEQ - 1.</param>
    /// <param name="ackNumber">The ACK segment's SEG.ACK: the cookie + 1.</param>
    /// <param name="nowMicros">Microseconds on the stack's monotonic clock.</param>
    /// <param name="mss">The MSS the cookie carried when it is valid, otherwise 0.</param>
    /// <returns>Whether the cookie is genuine and at most <see cref="MaxAgeSlots"/> slots old.</returns>
    public bool TryValidate(in TcpFourTuple tuple, uint clientIsn, uint ackNumber, long nowMicros, out ushort mss)
    {
        mss = 0;
        uint packed = unchecked(ackNumber - 1 - Whitening(tuple, clientIsn));

        long current = Slot(nowMicros);
        uint age = unchecked((uint)current - (packed >> CounterShift)) & CounterMask;
        if (age > MaxAgeSlots)
        {
            return false; // stale, or from the future
        }

        long slot = current - age;
        uint index = (packed >> MssShift) & MssMask;
        if ((packed & HashMask) != (Hash(tuple, clientIsn, slot, index) & HashMask))
        {
            return false; // forged, edited, or for another connection
        }

        mss = (tuple.RemoteAddress.IsIpv6 ? MssTableIpv6 : MssTable)[(int)index];
        return true;
    }

    /// <summary>The low TSval bits that carry the options: 4 for the window scale, 1 for SACK.</summary>
    public const uint TsOptionsMask = 0x1f;

    // The window scale value that means "no Window Scale option" (valid shifts are 0-14, RFC 7323 2.3).
    private const uint NoWindowScale = 0xf;
    private const uint SackBit = 0x10;

    /// <summary>
    /// The TSval to send in a cookie SYN-ACK: the timestamp clock with its low 5 bits replaced
    /// by the client's window scale (15 for none) and SACK-permitted, and moved back by 32
    /// ticks when that would put it ahead of the clock (RFC 7323 5.4: TSval must not run ahead,
    /// or the peer's PAWS would reject our next segments).
    /// </summary>
    /// <param name="tsNow">The connection's timestamp clock now (including its random offset).</param>
    /// <param name="peerWindowScale">The SYN's Window Scale shift, null when absent; shifts above 14 are stored as 14.</param>
    /// <param name="peerSackPermitted">Whether the SYN carried SACK-permitted.</param>
    public static uint EncodeOptionsInTsVal(uint tsNow, byte? peerWindowScale, bool peerSackPermitted)
    {
        uint options = peerWindowScale is byte ws ? Math.Min(ws, (uint)TcpOption.MaxWindowScaleShift) : NoWindowScale;
        if (peerSackPermitted)
        {
            options |= SackBit;
        }

        uint tsVal = (tsNow & ~TsOptionsMask) | options;
        if (new SeqNum(tsVal) > new SeqNum(tsNow))
        {
            tsVal = unchecked(tsVal - (TsOptionsMask + 1));
        }

        return tsVal;
    }

    /// <summary>
    /// Reads back what <see cref="EncodeOptionsInTsVal"/> stored, from the TSecr of the ACK that
    /// completes a cookie handshake (the ACK echoes our TSval). Call it only when that ACK
    /// carries a Timestamps option; otherwise both options are off.
    /// </summary>
    /// <param name="tsEcr">The ACK's TSecr.</param>
    /// <param name="peerWindowScale">The client's window scale shift, null when it sent none.</param>
    /// <param name="peerSackPermitted">Whether the client sent SACK-permitted.</param>
    public static void DecodeOptionsFromTsEcr(uint tsEcr, out byte? peerWindowScale, out bool peerSackPermitted)
    {
        uint ws = tsEcr & NoWindowScale;
        peerWindowScale = ws == NoWindowScale ? null : (byte)ws;
        peerSackPermitted = (tsEcr & SackBit) != 0;
    }

    /// <summary>The slot number of a time: floor division, so slots stay 64 s wide across 0.</summary>
    internal static long Slot(long nowMicros) =>
        nowMicros >= 0 ? nowMicros / SlotMicroseconds : ((nowMicros + 1) / SlotMicroseconds) - 1;

    // The keyed hash of the 4-tuple, the client's ISN, the full slot number and the MSS index.
    private uint Hash(in TcpFourTuple tuple, uint clientIsn, long slot, uint mssIndex)
    {
        Span<byte> input = stackalloc byte[MaxInputLength];
        int n = tuple.WriteTo(input);
        BinaryPrimitives.WriteUInt32BigEndian(input[n..], clientIsn);
        BinaryPrimitives.WriteInt64BigEndian(input[(n + 4)..], slot);
        input[n + 12] = (byte)mssIndex;
        return unchecked((uint)_hash.Hash(input[..(n + 13)]));
    }

    // The keyed hash of the 4-tuple and the client's ISN alone, added to hide the packed fields.
    // It takes the upper half of a hash of a shorter input, so it is independent of Hash.
    private uint Whitening(in TcpFourTuple tuple, uint clientIsn)
    {
        Span<byte> input = stackalloc byte[TcpFourTuple.MaxEncodedLength + 4];
        int n = tuple.WriteTo(input);
        BinaryPrimitives.WriteUInt32BigEndian(input[n..], clientIsn);
        return unchecked((uint)(_hash.Hash(input[..(n + 4)]) >> 32));
    }
}
