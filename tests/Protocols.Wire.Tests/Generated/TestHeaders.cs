using System.Runtime.CompilerServices;
using Protocols.Wire;

// Small headers that exercise the header compiler (Generators/): each one stresses a layout or a
// feature of docs/header-compiler.md. The generated code is compiled into this test assembly.

namespace Protocols.Wire.Tests.Generated
{
    /// <summary>An IP protocol number for the IPv4-like test header.</summary>
    public enum TestProtocol : byte
    {
        Icmp = 1,
        Tcp = 6,
        Udp = 17,
    }

    /// <summary>A 16-bit enum.</summary>
    public enum TestEtherType : ushort
    {
        Ipv4 = 0x0800,
        Arp = 0x0806,
        Ipv6 = 0x86DD,
    }

    /// <summary>A 4-bit enum stored in a byte.</summary>
    public enum TestKind : byte
    {
        Zero = 0,
        Data = 1,
        Ack = 2,
        Max = 15,
    }

    /// <summary>A 32-byte value without a ToString of its own (printed as hex).</summary>
    [InlineArray(32)]
    public struct TestRandom
    {
        private byte _element0;
    }

    /// <summary>The contract's IPv4 example: Const, Range, HeaderLength unit 4, TotalLength, Header checksum, 3+13 bits, inline arrays.</summary>
    [WireHeader("IPv4")]
    [HeaderLength(nameof(Ihl), Unit = 4)]
    [TotalLength(nameof(TotalLength))]
    [Checksum(nameof(HeaderChecksum), ChecksumCoverage.Header)]
    public partial struct Ipv4LikeHeader
    {
        [Bits(4), Const(4)] public byte Version;
        [Bits(4), Range(5, 15)] public byte Ihl;
        [Bits(6)] public byte Dscp;
        [Bits(2)] public byte Ecn;
        public ushort TotalLength;
        public ushort Identification;
        [Bits(1)] public bool Reserved;
        [Bits(1)] public bool DontFragment;
        [Bits(1)] public bool MoreFragments;
        [Bits(13)] public ushort FragmentOffset;
        public byte Ttl;
        public TestProtocol Protocol;
        public ushort HeaderChecksum;
        public Ipv4Address Source;
        public Ipv4Address Destination;
    }

    /// <summary>4 + 6 + 6 bits in two bytes.</summary>
    [WireHeader("Split466")]
    public partial struct Split466Header
    {
        [Bits(4)] public byte A;
        [Bits(6)] public byte B;
        [Bits(6)] public byte C;
    }

    /// <summary>3 + 13 bits, then a byte.</summary>
    [WireHeader("Split313")]
    public partial struct Split313Header
    {
        [Bits(3)] public byte Flags;
        [Bits(13)] public ushort Offset;
        public byte After;
    }

    /// <summary>Eight one-bit flags.</summary>
    [WireHeader("Flags")]
    public partial struct FlagsHeader
    {
        public bool F0;
        public bool F1;
        public bool F2;
        public bool F3;
        public bool F4;
        public bool F5;
        public bool F6;
        [Bits(1)] public bool F7;
    }

    /// <summary>A TLS-handshake-like header: a type byte and a 24-bit payload length.</summary>
    [WireHeader("Len24")]
    [PayloadLength(nameof(Length))]
    public partial struct Length24Header
    {
        public byte Type;
        [Bits(24)] public uint Length;
    }

    /// <summary>A 64-bit field at a 4-bit offset (spans 9 bytes), a 48-bit field and a 4-bit tail.</summary>
    [WireHeader("Wide")]
    public partial struct WideHeader
    {
        [Bits(4)] public byte Nibble;
        public ulong Value;
        [Bits(4)] public byte Tail;
        [Bits(48)] public ulong Stamp;
        [Bits(20)] public uint Twenty;
        [Bits(36)] public ulong ThirtySix;
        public uint Aligned32;
    }

    /// <summary>Enum fields: a 16-bit enum, a 4-bit enum and an 8-bit enum.</summary>
    [WireHeader("Enums")]
    public partial struct EnumHeader
    {
        public TestEtherType EtherType;
        [Bits(4)] public TestKind Kind;
        [Bits(4), Const(0)] public byte Zero;
        [Range(1, 17)] public TestProtocol Protocol;
    }

    /// <summary>A UDP-like header: total length and a pseudo-header checksum where zero means none.</summary>
    [WireHeader("UDP")]
    [TotalLength(nameof(Length))]
    [Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage, ZeroMeansNone = true)]
    public partial struct UdpLikeHeader
    {
        public ushort SourcePort;
        public ushort DestinationPort;
        public ushort Length;
        public ushort Checksum;
    }

    /// <summary>An ICMP-like header: a checksum over the whole message.</summary>
    [WireHeader("ICMP")]
    [Checksum(nameof(Checksum), ChecksumCoverage.Message)]
    public partial struct IcmpLikeHeader
    {
        public byte Type;
        public byte Code;
        public ushort Checksum;
        public ushort Identifier;
        public ushort Sequence;
    }

    /// <summary>An odd fixed length, fields at odd byte offsets spanning 16-bit words, and a TCP-like data offset.</summary>
    [WireHeader("Odd")]
    [HeaderLength(nameof(Words), Unit = 4, Source = LengthSource.DataOffset)]
    [Checksum(nameof(Check), ChecksumCoverage.Message)]
    public partial struct OddChecksumHeader
    {
        public ushort Check;
        public byte Lead;
        [Bits(4)] public byte Words;
        [Bits(12)] public ushort Twelve;
        [Bits(24)] public uint Mid;
        public MacAddress Mac;
        public byte Last;
    }

    /// <summary>A fixed 32-byte array without a ToString override.</summary>
    [WireHeader("Random")]
    internal partial struct RandomHeader
    {
        public ushort Version;
        public TestRandom Random;
    }

    /// <summary>Explicit bit offsets.</summary>
    [WireHeader("Explicit")]
    public partial struct ExplicitOffsetHeader
    {
        [Bits(8, Offset = 8)] public byte Second;
        [Bits(8, Offset = 0)] public byte First;
        [Bits(16, Offset = 16)] public ushort Rest;
    }

    /// <summary>A header nested in partial types.</summary>
    public static partial class Outer
    {
        internal partial class Middle
        {
            [WireHeader("Nested")]
            internal partial struct NestedHeader
            {
                public ushort Id;
                public byte Hops;
                [Bits(7)] public byte Low;
                public bool Flag;
            }
        }
    }
}

/// <summary>A header in the global namespace.</summary>
[WireHeader("Global")]
internal partial struct GlobalNamespaceHeader
{
    public byte Kind;
    public byte Length;
}
