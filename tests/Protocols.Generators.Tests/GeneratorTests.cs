using Microsoft.CodeAnalysis;
using Protocols.Tests.Shared;

namespace Protocols.Generators.Tests;

/// <summary>The header compiler as a whole: clean output, golden source, diagnostics.</summary>
public class GeneratorTests
{
    internal const string Ipv4Source = """
        using Protocols.Wire;

        namespace Demo.Net;

        /// <summary>An IP protocol number.</summary>
        public enum Proto : byte
        {
            /// <summary>ICMP.</summary>
            Icmp = 1,
            /// <summary>UDP.</summary>
            Udp = 17,
        }

        /// <summary>The contract's IPv4 example.</summary>
        [WireHeader("IPv4")]
        [HeaderLength(nameof(Ihl), Unit = 4)]
        [TotalLength(nameof(TotalLength))]
        [Checksum(nameof(HeaderChecksum), ChecksumCoverage.Header)]
        public partial struct Ipv4Header
        {
            /// <summary>Version.</summary>
            [Bits(4), Const(4)] public byte Version;
            /// <summary>IHL.</summary>
            [Bits(4), Range(5, 15)] public byte Ihl;
            /// <summary>DSCP.</summary>
            [Bits(6)] public byte Dscp;
            /// <summary>ECN.</summary>
            [Bits(2)] public byte Ecn;
            /// <summary>Total length.</summary>
            public ushort TotalLength;
            /// <summary>Identification.</summary>
            public ushort Identification;
            /// <summary>Reserved flag.</summary>
            [Bits(1)] public bool Reserved;
            /// <summary>DF.</summary>
            [Bits(1)] public bool DontFragment;
            /// <summary>MF.</summary>
            [Bits(1)] public bool MoreFragments;
            /// <summary>Fragment offset.</summary>
            [Bits(13)] public ushort FragmentOffset;
            /// <summary>TTL.</summary>
            public byte Ttl;
            /// <summary>Protocol.</summary>
            public Proto Protocol;
            /// <summary>Checksum.</summary>
            public ushort HeaderChecksum;
            /// <summary>Source.</summary>
            public Ipv4Address Source;
            /// <summary>Destination.</summary>
            public Ipv4Address Destination;
        }
        """;

    [Fact]
    public void CleanHeaderProducesNoDiagnosticsAndCompilesWithoutWarnings()
    {
        GeneratorOutput output = GeneratorHarness.Run(Ipv4Source);
        Assert.Empty(output.Diagnostics);
        Assert.Equal(["Demo.Net.Ipv4Header.g.cs"], output.Sources.Keys);
        Assert.Empty(GeneratorHarness.Problems(output.Compilation));
    }

    [Fact]
    public void GeneratedSourceSnapshot()
    {
        GeneratorOutput output = GeneratorHarness.Run(Ipv4Source);
        Snapshot.Match(output.Sources["Demo.Net.Ipv4Header.g.cs"]);
    }

    [Fact]
    public void AllFeaturesCompileWithoutWarnings()
    {
        const string source = """
            using System.Runtime.CompilerServices;
            using Protocols.Wire;

            /// <summary>A 32-byte value.</summary>
            [InlineArray(32)]
            public struct Random32
            {
                private byte _element0;
            }

            /// <summary>A 4-bit enum over ulong.</summary>
            public enum Nib : ulong
            {
                /// <summary>A.</summary>
                A = 1,
            }

            /// <summary>Global namespace, pseudo-header checksum, odd layouts.</summary>
            [WireHeader("G")]
            [TotalLength(nameof(Length))]
            [Checksum(nameof(Check), ChecksumCoverage.PseudoHeaderAndMessage, ZeroMeansNone = true)]
            internal partial struct GlobalHeader
            {
                public ushort Check;
                [Bits(4)] public Nib Kind;
                public ulong Wide;
                [Bits(4)] public byte Tail;
                [Bits(48)] public ulong Stamp;
                [Bits(24)] public uint Length;
                public Random32 Random;
                public MacAddress Mac;
                public bool Flag;
                [Bits(7), Range(1, 100)] public byte Seven;
                [Const(0xFFFF_FFFF_FFFF_FFFF)] public ulong AllOnes;
                [Range(0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFE)] public ulong High;
                [Bits(1), Const(1)] public bool On;
                [Bits(7), Const(0)] public byte Pad;
                public byte @class;
            }

            namespace Deep.Space
            {
                public static partial class Outer<T>
                {
                    internal partial record Middle
                    {
                        /// <summary>Nested, payload length, data offset.</summary>
                        [WireHeader("Nested \"quoted\" <layer>")]
                        [HeaderLength(nameof(Offset), Unit = 4, Source = LengthSource.DataOffset)]
                        [PayloadLength(nameof(Size))]
                        public partial record struct NestedHeader
                        {
                            /// <summary>Offset.</summary>
                            [Bits(4)] public byte Offset;
                            /// <summary>Flags.</summary>
                            [Bits(12)] public ushort Flags;
                            /// <summary>Size.</summary>
                            public ulong Size;
                            /// <summary>Type.</summary>
                            public byte Type;
                            /// <summary>HashCode.</summary>
                            public byte HashCode;
                        }
                    }
                }
            }
            """;
        GeneratorOutput output = GeneratorHarness.Run(source);
        Assert.Empty(output.Diagnostics);
        Assert.Equal(2, output.Sources.Count);
        Assert.Contains("GlobalHeader.g.cs", output.Sources.Keys);
        Assert.Contains("Deep.Space.Outer{T}.Middle.NestedHeader.g.cs", output.Sources.Keys);
        Assert.Empty(GeneratorHarness.Problems(output.Compilation, generatedOnly: true));
        Assert.Empty(output.Compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void EdgeLayoutsCompileWithoutWarnings()
    {
        const string source = """
            using Protocols.Wire;

            namespace Edge;

            [WireHeader("Empty")]
            internal partial struct EmptyHeader
            {
                public static int NotAField = 3;
                public const int AlsoNotAField = 1;
                public int Property { get; set; }
            }

            [WireHeader("Gaps")]
            [HeaderLength(nameof(Words), Unit = 1)]
            [PayloadLength(nameof(Size))]
            internal partial struct GapHeader
            {
                [Bits(4, Offset = 4)] public byte Words;
                [Bits(8, Offset = 16)] public byte Size;
                [Bits(60)] public ulong Sixty;
                [Bits(4), Const(15)] public byte Tail;
            }

            [WireHeader("Checksum name")]
            [Checksum(nameof(Checksum), ChecksumCoverage.Message)]
            internal partial struct NamedChecksumHeader
            {
                public ushort Checksum;
                [Bits(16)] public uint Type;
                public ulong Value;
            }
            """;
        GeneratorOutput output = GeneratorHarness.Run(source);
        Assert.Empty(output.Diagnostics);
        Assert.Equal(3, output.Sources.Count);
        Assert.Empty(GeneratorHarness.Problems(output.Compilation));
    }

    public static TheoryData<string, string> DiagnosticCases() => new()
    {
        { "PROTO001", "[WireHeader(\"X\")] public struct H { public byte A; }" },
        { "PROTO001", "public class Outer { [WireHeader(\"X\")] public partial struct H { public byte A; } }" },
        { "PROTO002", "[WireHeader(\"X\")] public partial struct H { [Bits(4)] public byte A; }" },
        { "PROTO003", "[WireHeader(\"X\")] public partial struct H { public int A; }" },
        { "PROTO003", "[WireHeader(\"X\")] public partial struct H { public string A; }" },
        { "PROTO003", "[WireHeader(\"X\")] public partial struct H { public byte[] A; }" },
        { "PROTO003", "[WireHeader(\"X\")] public partial struct H { public Shorts A; } [System.Runtime.CompilerServices.InlineArray(2)] public struct Shorts { private ushort _e; }" },
        { "PROTO003", "public enum E : int { A } [WireHeader(\"X\")] public partial struct H { public E A; }" },
        { "PROTO004", "[WireHeader(\"X\")] [TotalLength(\"Nope\")] public partial struct H { public ushort A; }" },
        { "PROTO004", "[WireHeader(\"X\")] [Checksum(\"Nope\", ChecksumCoverage.Header)] public partial struct H { public ushort A; }" },
        { "PROTO005", "[WireHeader(\"X\")] [Checksum(nameof(A), ChecksumCoverage.Header)] public partial struct H { public uint A; }" },
        { "PROTO005", "[WireHeader(\"X\")] [Checksum(nameof(B), ChecksumCoverage.Header)] public partial struct H { public byte A; public ushort B; public byte C; }" },
        { "PROTO005", "[WireHeader(\"X\")] [TotalLength(nameof(A))] public partial struct H { public bool A; [Bits(7)] public byte B; }" },
        { "PROTO005", "public enum E : ushort { A } [WireHeader(\"X\")] [HeaderLength(nameof(A))] public partial struct H { public E A; }" },
        { "PROTO005", "[WireHeader(\"X\")] [HeaderLength(nameof(A), Unit = 8, Bias = 256)] public partial struct H { public byte A; public byte B; }" },
        { "PROTO005", "[WireHeader(\"X\")] [HeaderLength(nameof(A), Unit = 8, Bias = -1)] public partial struct H { public byte A; public byte B; }" },
        { "PROTO006", "[WireHeader(\"X\")] public partial struct H { [Bits(8, Offset = 0)] public byte A; [Bits(8, Offset = 0)] public byte B; }" },
        { "PROTO006", "[WireHeader(\"X\")] [TotalLength(nameof(A))] [HeaderLength(nameof(A))] public partial struct H { public ushort A; }" },
        { "PROTO006", "[WireHeader(\"X\")] public partial struct H { public ushort HeaderLength; }" },
        { "PROTO006", "[WireHeader(\"X\")] public partial struct H { public ushort IsTruncated; }" },
        { "PROTO006", "[WireHeader(\"X\")] public partial struct H { public ushort DeclaredLength; }" },
        { "PROTO006", "[WireHeader(\"X\")] public partial struct H { public ushort SetAll; }" },
        { "PROTO007", "[WireHeader(\"X\")] public partial struct H { [Bits(0)] public byte A; }" },
        { "PROTO007", "[WireHeader(\"X\")] public partial struct H { [Bits(65)] public ulong A; [Bits(7)] public byte B; }" },
        { "PROTO007", "[WireHeader(\"X\")] public partial struct H { [Bits(20)] public ushort A; [Bits(4)] public byte B; }" },
        { "PROTO007", "[WireHeader(\"X\")] public partial struct H { [Bits(2)] public bool A; [Bits(6)] public byte B; }" },
        { "PROTO007", "[WireHeader(\"X\")] public partial struct H { [Bits(4)] public byte A; public Ipv4Address B; [Bits(4)] public byte C; }" },
        { "PROTO008", "[WireHeader(\"X\")] public partial struct H { [Bits(4), Const(16)] public byte A; [Bits(4)] public byte B; }" },
        { "PROTO008", "[WireHeader(\"X\")] public partial struct H { [Range(9, 3)] public byte A; }" },
        { "PROTO008", "[WireHeader(\"X\")] public partial struct H { [Bits(3), Range(0, 8)] public byte A; [Bits(5)] public byte B; }" },
        { "PROTO009", "[WireHeader(\"X\")] public partial struct H { [LittleEndian] public byte A; }" },
        { "PROTO009", "[WireHeader(\"X\")] public partial struct H { [LittleEndian, Bits(12)] public ushort A; [Bits(4)] public byte B; }" },
        { "PROTO009", "[WireHeader(\"X\")] public partial struct H { [Bits(4)] public byte A; [LittleEndian] public ushort B; [Bits(4)] public byte C; }" },
    };

    [Theory]
    [MemberData(nameof(DiagnosticCases))]
    public void EachDiagnosticIsReported(string id, string declaration)
    {
        GeneratorOutput output = GeneratorHarness.Run("using Protocols.Wire;\n" + declaration);
        Diagnostic diagnostic = Assert.Single(output.Diagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.NotEqual(Location.None, diagnostic.Location);
        Assert.Equal("Source0.cs", diagnostic.Location.GetLineSpan().Path); // a file location kept as data (path + span)
        Assert.Empty(output.Sources); // nothing is generated for an invalid header
    }

    [Fact]
    public void DiagnosticMessagesSayWhatToDo()
    {
        GeneratorOutput output = GeneratorHarness.Run("using Protocols.Wire;\n[WireHeader(\"X\")] public partial struct H { [Bits(20)] public ushort X; [Bits(4)] public byte B; }");
        Diagnostic diagnostic = Assert.Single(output.Diagnostics);
        Assert.Equal("Field 'X' is 20 bits wide but its type ushort holds 16; use a wider type or [Bits(16)]", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("Source0.cs", diagnostic.Location.GetLineSpan().Path);
    }

    [Fact]
    public void DiagnosticPointsAtTheOffendingField()
    {
        const string source = "using Protocols.Wire;\n[WireHeader(\"X\")] public partial struct H\n{\n    public byte A;\n    public int Bad;\n}";
        Diagnostic diagnostic = Assert.Single(GeneratorHarness.Run(source).Diagnostics);
        Assert.Equal("PROTO003", diagnostic.Id);
        Assert.Equal(4, diagnostic.Location.GetLineSpan().StartLinePosition.Line);
    }
}
