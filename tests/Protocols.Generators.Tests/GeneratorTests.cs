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
    public void Clean_header_produces_no_diagnostics_and_compiles_without_warnings()
    {
        GeneratorOutput output = GeneratorHarness.Run(Ipv4Source);
        Assert.Empty(output.Diagnostics);
        Assert.Equal(["Demo.Net.Ipv4Header.g.cs"], output.Sources.Keys);
        Assert.Empty(GeneratorHarness.Problems(output.Compilation));
    }

    [Fact]
    public void Generated_source_snapshot()
    {
        GeneratorOutput output = GeneratorHarness.Run(Ipv4Source);
        Snapshot.Match(output.Sources["Demo.Net.Ipv4Header.g.cs"]);
    }

    [Fact]
    public void All_features_compile_without_warnings()
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
    public void Edge_layouts_compile_without_warnings()
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

    /// <summary>Every diagnostic with a declaration that triggers it and the exact message it gives: what is wrong, then how to fix it.</summary>
    public static TheoryData<string, string, string> DiagnosticCases() => new()
    {
        { "PROTO001", "[WireHeader(\"X\")] public struct H { public byte A; }", "Struct 'H' must be declared 'partial' so the header compiler can add its reader and writer" },
        { "PROTO001", "public class Outer { [WireHeader(\"X\")] public partial struct H { public byte A; } }", "Containing type 'Outer' must be declared 'partial' so the header compiler can add its reader and writer" },
        { "PROTO002", "[WireHeader(\"X\")] public partial struct H { [Bits(4)] public byte A; }", "The fields of 'H' cover 4 bits, which is not a whole number of bytes; add or widen a field, for example a reserved field of 4 bits" },
        { "PROTO003", "[WireHeader(\"X\")] public partial struct H { public int A; }", "Field 'A' has type int, which a wire header cannot hold; use byte, ushort, uint, ulong, bool, an enum over those, or an [InlineArray(N)] struct of bytes" },
        { "PROTO003", "[WireHeader(\"X\")] public partial struct H { public string A; }", "Field 'A' has type string, which a wire header cannot hold; use byte, ushort, uint, ulong, bool, an enum over those, or an [InlineArray(N)] struct of bytes" },
        { "PROTO003", "[WireHeader(\"X\")] public partial struct H { public byte[] A; }", "Field 'A' has type byte[], which a wire header cannot hold; use byte, ushort, uint, ulong, bool, an enum over those, or an [InlineArray(N)] struct of bytes" },
        { "PROTO003", "[WireHeader(\"X\")] public partial struct H { public Shorts A; } [System.Runtime.CompilerServices.InlineArray(2)] public struct Shorts { private ushort _e; }", "Field 'A' has type Shorts, which a wire header cannot hold; use byte, ushort, uint, ulong, bool, an enum over those, or an [InlineArray(N)] struct of bytes" },
        { "PROTO003", "public enum E : int { A } [WireHeader(\"X\")] public partial struct H { public E A; }", "Field 'A' has type E, which a wire header cannot hold; use byte, ushort, uint, ulong, bool, an enum over those, or an [InlineArray(N)] struct of bytes" },
        { "PROTO004", "[WireHeader(\"X\")] [TotalLength(\"Nope\")] public partial struct H { public ushort A; }", "[TotalLength] names 'Nope', which is not an instance field of 'H'; use nameof(...) on one of its fields" },
        { "PROTO004", "[WireHeader(\"X\")] [Checksum(\"Nope\", ChecksumCoverage.Header)] public partial struct H { public ushort A; }", "[Checksum] names 'Nope', which is not an instance field of 'H'; use nameof(...) on one of its fields" },
        { "PROTO005", "[WireHeader(\"X\")] [TotalLength(nameof(A))] public partial struct H { public bool A; [Bits(7)] public byte B; }", "[TotalLength] names field 'A', which is a bool; a length field must be an unsigned integer (byte, ushort, uint or ulong): change the field's type or name another field" },
        { "PROTO005", "public enum E : ushort { A } [WireHeader(\"X\")] [HeaderLength(nameof(A))] public partial struct H { public E A; }", "[HeaderLength] names field 'A', which is an enum; a length field must be an unsigned integer (byte, ushort, uint or ulong): change the field's type or name another field" },
        { "PROTO006", "[WireHeader(\"X\")] public partial struct H { [Bits(8, Offset = 0)] public byte A; [Bits(8, Offset = 0)] public byte B; }", "Field 'B' (bits 0..7) overlaps field 'A' (bits 0..7); change the [Bits(Offset = ...)] values so that every bit belongs to one field" },
        { "PROTO007", "[WireHeader(\"X\")] public partial struct H { [Bits(0)] public byte A; }", "Field 'A' is 0 bits wide but its type byte holds 1 to 8; use [Bits(n)] with n from 1 to 8, or a wider type" },
        { "PROTO007", "[WireHeader(\"X\")] public partial struct H { [Bits(65)] public ulong A; [Bits(7)] public byte B; }", "Field 'A' is 65 bits wide but its type ulong holds 1 to 64; use [Bits(n)] with n from 1 to 64, or a wider type" },
        { "PROTO007", "[WireHeader(\"X\")] public partial struct H { [Bits(20)] public ushort A; [Bits(4)] public byte B; }", "Field 'A' is 20 bits wide but its type ushort holds 1 to 16; use [Bits(n)] with n from 1 to 16, or a wider type" },
        { "PROTO008", "[WireHeader(\"X\")] public partial struct H { [Bits(4), Const(16)] public byte A; [Bits(4)] public byte B; }", "[Const(16)] on field 'A' allows 16, which does not fit its 4 bits (largest value 15); use values up to 15 or a wider field" },
        { "PROTO008", "[WireHeader(\"X\")] public partial struct H { [Bits(3), Range(0, 8)] public byte A; [Bits(5)] public byte B; }", "[Range(0, 8)] on field 'A' allows 8, which does not fit its 3 bits (largest value 7); use values up to 7 or a wider field" },
        { "PROTO009", "[WireHeader(\"X\")] public partial struct H { [LittleEndian] public byte A; }", "Field 'A' is [LittleEndian] but is 8 bits wide at bit 0; byte order applies only to a whole ushort, uint or ulong (or an enum over one) at a byte boundary, so remove [LittleEndian] or declare the field that way" },
        { "PROTO009", "[WireHeader(\"X\")] public partial struct H { [LittleEndian, Bits(12)] public ushort A; [Bits(4)] public byte B; }", "Field 'A' is [LittleEndian] but is 12 bits wide at bit 0; byte order applies only to a whole ushort, uint or ulong (or an enum over one) at a byte boundary, so remove [LittleEndian] or declare the field that way" },
        { "PROTO009", "[WireHeader(\"X\")] public partial struct H { [Bits(4)] public byte A; [LittleEndian] public ushort B; [Bits(4)] public byte C; }", "Field 'B' is [LittleEndian] but is 16 bits wide at bit 4; byte order applies only to a whole ushort, uint or ulong (or an enum over one) at a byte boundary, so remove [LittleEndian] or declare the field that way" },
        { "PROTO010", "[WireHeader(\"X\")] public partial struct H { public ushort HeaderLength; }", "Field 'HeaderLength' would collide with the member 'HeaderLength' the header compiler generates; rename the field" },
        { "PROTO010", "[WireHeader(\"X\")] public partial struct H { public ushort IsTruncated; }", "Field 'IsTruncated' would collide with the member 'IsTruncated' the header compiler generates; rename the field" },
        { "PROTO010", "[WireHeader(\"X\")] public partial struct H { public ushort DeclaredLength; }", "Field 'DeclaredLength' would collide with the member 'DeclaredLength' the header compiler generates; rename the field" },
        { "PROTO010", "[WireHeader(\"X\")] public partial struct H { public ushort SetAll; }", "Field 'SetAll' would collide with the member 'SetAll' the header compiler generates; rename the field" },
        { "PROTO010", "[WireHeader(\"X\")] public partial struct H { public byte A; public byte GetA; }", "Field 'GetA' would collide with the member 'GetA' the header compiler generates; rename the field" },
        { "PROTO010", "[WireHeader(\"X\")] public partial struct H { public MacAddress Mac; public byte MacBytes; }", "Field 'MacBytes' would collide with the member 'MacBytes' the header compiler generates; rename the field" },
        { "PROTO010", "[WireHeader(\"X\")] [Prefix(1)] public partial struct H { public byte A; public byte PrefixLength; }", "Field 'PrefixLength' would collide with the member 'PrefixLength' the header compiler generates; rename the field" },
        { "PROTO011", "[WireHeader(\"X\")] [TotalLength(nameof(A))] [HeaderLength(nameof(A))] public partial struct H { public ushort A; }", "Field 'A' is named by both [TotalLength] and [HeaderLength]; each role needs its own field, so name another field in one of them" },
        { "PROTO012", "[WireHeader(\"X\")] [TotalLength(nameof(A))] [PayloadLength(nameof(B))] public partial struct H { public ushort A; public ushort B; }", "'H' declares both [TotalLength] and [PayloadLength]; keep only the one its protocol defines" },
        { "PROTO013", "[WireHeader(\"X\")] [Checksum(nameof(A), ChecksumCoverage.Header)] public partial struct H { public uint A; }", "[Checksum] names field 'A', a 32-bit uint at bit 0; RFC 1071 sums 16-bit words, so the checksum must be a 16-bit unsigned integer (ushort, or [Bits(16)] on a wider type) at an even byte offset" },
        { "PROTO013", "[WireHeader(\"X\")] [Checksum(nameof(B), ChecksumCoverage.Header)] public partial struct H { public byte A; public ushort B; public byte C; }", "[Checksum] names field 'B', a 16-bit ushort at bit 8; RFC 1071 sums 16-bit words, so the checksum must be a 16-bit unsigned integer (ushort, or [Bits(16)] on a wider type) at an even byte offset" },
        { "PROTO014", "[WireHeader(\"X\")] [Checksum(nameof(A), (ChecksumCoverage)7)] public partial struct H { public ushort A; }", "[Checksum] on 'H' has coverage 7, which is not a ChecksumCoverage member; use ChecksumCoverage.Header, ChecksumCoverage.Message or ChecksumCoverage.PseudoHeaderAndMessage" },
        { "PROTO015", "[WireHeader(\"X\")] [HeaderLength(nameof(A), Unit = 0)] public partial struct H { public byte A; }", "[HeaderLength] on 'H' has Unit = 0; the unit is the number of bytes one count of the field stands for, at least 1 (4 for IPv4 IHL and the TCP data offset)" },
        { "PROTO016", "[WireHeader(\"X\")] public partial struct H { [Bits(2)] public bool A; [Bits(6)] public byte B; }", "Field 'A' is a bool declared 2 bits wide; a bool is exactly 1 bit, so remove [Bits] or use a byte for a wider flag set" },
        { "PROTO017", "[WireHeader(\"X\")] public partial struct H { [Bits(16)] public Ipv4Address A; }", "Field 'A' is a fixed array of 4 bytes, and [Bits(16)] would give it another width; a fixed array is as wide as its type, so remove [Bits] (or its width)" },
        { "PROTO018", "[WireHeader(\"X\")] public partial struct H { [Bits(4)] public byte A; public Ipv4Address B; [Bits(4)] public byte C; }", "Field 'B' is a fixed array starting at bit 4, which is not on a byte boundary; widen the fields before it to whole bytes or set [Bits(Offset = ...)] to a multiple of 8" },
        { "PROTO019", "[WireHeader(\"X\")] public partial struct H { [Range(9, 3)] public byte A; }", "[Range(9, 3)] on field 'A' has its minimum above its maximum, so no value passes; swap the two bounds" },
        { "PROTO020", "[WireHeader(\"X\")] public partial struct H { [Const(1)] public MacAddress A; }", "[Const] on field 'A', a fixed array; [Const] and [Range] apply to numeric, bool and enum fields, so remove it and check the bytes where they are used" },
        { "PROTO021", "[WireHeader(\"X\")] [Prefix(4)] public partial struct H { public ushort A; public ushort B; }", "[Prefix(4)] on 'H' must name a length from 1 to 4, the header's fixed part, less than the whole of it; use TryReadHeader to read the whole header" },
        { "PROTO022", "[WireHeader(\"X\")] [HeaderLength(nameof(A), Unit = 8, Bias = 256)] public partial struct H { public byte A; public byte B; }", "[HeaderLength] on 'H' has Bias = 256; the bias is the number of units the field does not count, from 0 to 255 (1 for an IPv6 extension header, whose length leaves out its first 8 octets)" },
        { "PROTO022", "[WireHeader(\"X\")] [HeaderLength(nameof(A), Unit = 8, Bias = -1)] public partial struct H { public byte A; public byte B; }", "[HeaderLength] on 'H' has Bias = -1; the bias is the number of units the field does not count, from 0 to 255 (1 for an IPv6 extension header, whose length leaves out its first 8 octets)" },
        { "PROTO021", "[WireHeader(\"X\")] [Prefix(0)] public partial struct H { public ushort A; public ushort B; }", "[Prefix(0)] on 'H' must name a length from 1 to 4, the header's fixed part, less than the whole of it; use TryReadHeader to read the whole header" },
    };

    [Theory]
    [MemberData(nameof(DiagnosticCases))]
    public void Each_diagnostic_is_reported_with_its_own_message(string id, string declaration, string message)
    {
        GeneratorOutput output = GeneratorHarness.Run("using Protocols.Wire;\n" + declaration);
        Diagnostic diagnostic = Assert.Single(output.Diagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal(message, diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(LocationKind.SourceFile, diagnostic.Location.Kind); // a location in the syntax tree: #pragma applies to it
        Assert.Equal("Source0.cs", diagnostic.Location.GetLineSpan().Path);
        Assert.Empty(output.Sources); // nothing is generated for an invalid header
    }

    [Fact]
    public void Every_diagnostic_has_a_case_and_its_own_message_format()
    {
        var tested = DiagnosticCases().Select(row => (string)row[0]).ToHashSet();
        Assert.Equal(Protocols.Generators.Diagnostics.All.Keys.Order(), tested.Order());

        var formats = Protocols.Generators.Diagnostics.All.Values.Select(d => d.MessageFormat.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(formats.Count, formats.Distinct().Count());
        // Never a bare "{0}": at least a sentence of fixed text around the arguments.
        Assert.All(formats, f => Assert.True(System.Text.RegularExpressions.Regex.Replace(f, @"\{\d+\}", "").Split(' ', StringSplitOptions.RemoveEmptyEntries).Length >= 10, f));
    }

    [Theory]
    [InlineData("#pragma warning disable PROTO003\n", true)]
    [InlineData("#pragma warning disable PROTO003\n#pragma warning restore PROTO003\n", false)]
    [InlineData("#pragma warning disable PROTO001\n", false)]
    [InlineData("", false)]
    public void Pragma_warning_disable_suppresses_a_diagnostic(string pragma, bool suppressed)
    {
        string source = "using Protocols.Wire;\n[WireHeader(\"X\")] public partial struct H\n{\n    public byte A;\n" + pragma + "    public int Bad;\n}";
        Diagnostic diagnostic = Assert.Single(GeneratorHarness.Run(source).Diagnostics);
        Assert.Equal("PROTO003", diagnostic.Id);
        Assert.Equal(suppressed, diagnostic.IsSuppressed);
    }

    [Fact]
    public void Diagnostic_points_at_the_offending_field()
    {
        const string source = "using Protocols.Wire;\n[WireHeader(\"X\")] public partial struct H\n{\n    public byte A;\n    public int Bad;\n}";
        Diagnostic diagnostic = Assert.Single(GeneratorHarness.Run(source).Diagnostics);
        Assert.Equal("PROTO003", diagnostic.Id);
        Assert.Equal(4, diagnostic.Location.GetLineSpan().StartLinePosition.Line);
    }
}
