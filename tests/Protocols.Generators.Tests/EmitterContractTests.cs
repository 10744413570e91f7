using Microsoft.CodeAnalysis;
using Protocols.Generators;

namespace Protocols.Generators.Tests;

/// <summary>What the parser decides once and the emitter follows: the list of checks, the generated names, prefix readers.</summary>
public class EmitterContractTests
{
    private const string PrefixedSource = """
        using Protocols.Wire;

        namespace Demo.Net;

        /// <summary>A TCP-like header whose first 8 bytes are all an ICMP error quotes.</summary>
        [WireHeader("T")]
        [HeaderLength(nameof(Offset), Unit = 4)]
        [Checksum(nameof(Check), ChecksumCoverage.PseudoHeaderAndMessage)]
        [Prefix(8)]
        public partial struct PrefixedHeader
        {
            /// <summary>A.</summary>
            public ushort SourcePort;
            /// <summary>B.</summary>
            [Range(1, 65535)] public ushort DestinationPort;
            /// <summary>C.</summary>
            public uint Sequence;
            /// <summary>D.</summary>
            [Bits(4), Range(5, 15)] public byte Offset;
            /// <summary>E.</summary>
            [Bits(4), Const(0)] public byte Reserved;
            /// <summary>F.</summary>
            public byte Flags;
            /// <summary>G.</summary>
            public ushort Check;
            /// <summary>H.</summary>
            public MacAddress Mac;
        }
        """;

    private static HeaderModel Model(string source)
    {
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(GeneratorHarness.Compile(source));
        GeneratorRunResult result = Assert.Single(driver.GetRunResult().Results);
        return (HeaderModel)Assert.Single(result.TrackedSteps[HeaderGenerator.TrackingNames.Model].SelectMany(s => s.Outputs)).Value;
    }

    [Fact]
    public void The_checks_are_one_list_in_the_documented_order()
    {
        HeaderModel model = Model(GeneratorTests.Ipv4Source);
        Assert.Equal(
            [
                (CheckKind.FixedPart, (string?)null),
                (CheckKind.Const, "Version"),
                (CheckKind.Range, "Ihl"),
                (CheckKind.HeaderLengthCoversFixedPart, "Ihl"),
                (CheckKind.HeaderLengthFits, "Ihl"),
                (CheckKind.TotalLengthCoversHeader, "TotalLength"),
                (CheckKind.MessageFits, "TotalLength"),
            ],
            model.Checks.Select(c => (c.Kind, c.Field?.Name)));

        // Ihl's [Range(5, 15)]: 15 is all four bits hold, so only the lower bound is a check.
        CheckModel range = model.Checks[2];
        Assert.Equal(5UL, range.Minimum);
        Assert.Null(range.Maximum);
        Assert.Equal([CheckKind.MessageFits], model.Checks.Where(c => c.SkippedWhenLax).Select(c => c.Kind));
    }

    [Fact]
    public void Roles_and_coverage_are_enums_of_the_model()
    {
        HeaderModel model = Model(PrefixedSource);
        Assert.Equal(FieldRole.HeaderLength, model.Fields.Single(f => f.Name == "Offset").Role);
        Assert.Equal(FieldRole.Checksum, model.Fields.Single(f => f.Name == "Check").Role);
        Assert.Equal(ChecksumCoverage.PseudoHeaderAndMessage, model.ChecksumCoverage);
        Assert.Equal(LengthSource.HeaderLength, model.HeaderLengthSource);
        Assert.Null(model.MessageLengthField);
        Assert.Equal(8, model.PrefixLength);
        Assert.Equal(StorageType.UInt16, model.Fields[0].Storage);
        Assert.Equal(StorageType.None, model.Fields.Single(f => f.Name == "Mac").Storage);
    }

    [Fact]
    public void Every_generated_member_name_is_in_the_shared_list()
    {
        GeneratorOutput output = GeneratorHarness.Run(GeneratorTests.Ipv4Source, PrefixedSource.Replace("namespace Demo.Net;", "namespace Demo.Other;"));
        Assert.Empty(output.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output.Compilation));
        var seen = new HashSet<string>();
        foreach (string name in new[] { "Demo.Net.Ipv4Header", "Demo.Other.PrefixedHeader" })
        {
            INamedTypeSymbol header = output.Compilation.GetTypeByMetadataName(name)!;
            var fields = header.GetMembers().OfType<IFieldSymbol>().Where(f => !f.IsStatic && !f.IsImplicitlyDeclared).ToList();
            var perField = new HashSet<string>(fields.SelectMany(f => new[] { "Get" + f.Name, "Set" + f.Name, f.Name + "Bytes", "Set" + f.Name + "UpdatingChecksum" }));
            var fieldNames = fields.Select(f => f.Name).ToHashSet();
            foreach (INamedTypeSymbol type in new[] { header }.Concat(header.GetTypeMembers()))
            {
                seen.Add(type.Name);
                foreach (ISymbol member in type.GetMembers())
                {
                    bool generated = member.Locations.Any(l => l.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true);
                    if (!generated || member.IsImplicitlyDeclared || member is IMethodSymbol { MethodKind: not MethodKind.Ordinary })
                    {
                        continue;
                    }

                    seen.Add(member.Name);
                    if (fieldNames.Contains(member.Name) || perField.Contains(member.Name))
                    {
                        continue; // a field's Reader/Writer property or its Get/Set/Bytes/UpdatingChecksum member
                    }

                    Assert.True(Names.IsReserved(member.Name, hasPrefix: true), member.Name);
                }
            }
        }

        // And the lists name nothing the emitter no longer generates.
        Assert.Empty(Names.Members.Concat(Names.PrefixMembers).Except(seen));
    }

    [Fact]
    public void A_prefix_reader_reads_the_fields_within_the_prefix()
    {
        GeneratorOutput output = GeneratorHarness.Run(PrefixedSource);
        Assert.Empty(output.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output.Compilation));
        INamedTypeSymbol prefixReader = output.Compilation.GetTypeByMetadataName("Demo.Net.PrefixedHeader+PrefixReader")!;
        Assert.Equal(
            ["Bytes", "DestinationPort", "Sequence", "SourcePort"],
            prefixReader.GetMembers().OfType<IPropertySymbol>().Select(p => p.Name).Order());

        // The prefix checks are the [Const]/[Range] checks of fields within the prefix: DestinationPort, not Offset.
        string source = output.Sources["Demo.Net.PrefixedHeader.g.cs"];
        string prefixError = source[source.IndexOf("private static global::Protocols.Wire.WireError PrefixError", StringComparison.Ordinal)..];
        prefixError = prefixError[..prefixError.IndexOf("return default;", StringComparison.Ordinal)];
        Assert.Contains("\"DestinationPort\"", prefixError, StringComparison.Ordinal);
        Assert.DoesNotContain("\"Offset\"", prefixError, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_a_pseudo_header_checksum_gets_the_pseudo_header_update()
    {
        const string zeroMeansNone = """
            using Protocols.Wire;

            namespace Demo.Udp;

            /// <summary>A UDP-like header: pseudo-header checksum where zero means none.</summary>
            [WireHeader("U")]
            [TotalLength(nameof(Length))]
            [Checksum(nameof(Check), ChecksumCoverage.PseudoHeaderAndMessage, ZeroMeansNone = true)]
            public partial struct UdpLikeHeader
            {
                /// <summary>A.</summary>
                public ushort SourcePort;
                /// <summary>B.</summary>
                public ushort DestinationPort;
                /// <summary>C.</summary>
                public ushort Length;
                /// <summary>D.</summary>
                public ushort Check;
            }
            """;
        GeneratorOutput output = GeneratorHarness.Run(GeneratorTests.Ipv4Source, PrefixedSource, zeroMeansNone);
        Assert.Empty(output.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output.Compilation));

        IMethodSymbol? Update(string header) => output.Compilation.GetTypeByMetadataName(header + "+Writer")!
            .GetMembers(Names.UpdateChecksumForPseudoHeader).OfType<IMethodSymbol>().SingleOrDefault();

        // A header checksum (IPv4) has no pseudo-header to update.
        Assert.Null(Update("Demo.Net.Ipv4Header"));
        foreach (string header in new[] { "Demo.Net.PrefixedHeader", "Demo.Udp.UdpLikeHeader" })
        {
            IMethodSymbol update = Update(header)!;
            Assert.True(update.ReturnsVoid);
            Assert.Equal(["before", "after"], update.Parameters.Select(p => p.Name));
            Assert.All(update.Parameters, p => Assert.Equal("System.ReadOnlySpan<byte>", p.Type.ToDisplayString()));
        }

        // RFC 768: with ZeroMeansNone a datagram sent without a checksum keeps none, and a computed
        // zero is sent as all ones; without it neither rule is emitted.
        static string Body(string source)
        {
            string body = source[source.IndexOf("public void " + Names.UpdateChecksumForPseudoHeader, StringComparison.Ordinal)..];
            return body[..body.IndexOf("\n        }\n", StringComparison.Ordinal)];
        }

        string udp = Body(output.Sources["Demo.Udp.UdpLikeHeader.g.cs"]);
        Assert.Contains("No checksum was transmitted", udp, StringComparison.Ordinal);
        Assert.Contains("checksum == 0 ? (ushort)0xFFFF", udp, StringComparison.Ordinal);
        string tcp = Body(output.Sources["Demo.Net.PrefixedHeader.g.cs"]);
        Assert.DoesNotContain("No checksum was transmitted", tcp, StringComparison.Ordinal);
        Assert.DoesNotContain("0xFFFF", tcp, StringComparison.Ordinal);
        Assert.Contains("Checksum.Update(checksum", tcp, StringComparison.Ordinal);
    }
}
