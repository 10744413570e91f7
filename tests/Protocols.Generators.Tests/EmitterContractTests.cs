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
    public void TheChecksAreOneListInTheDocumentedOrder()
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
    public void RolesAndCoverageAreEnumsOfTheModel()
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
    public void EveryGeneratedMemberNameIsInTheSharedList()
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
    public void APrefixReaderReadsTheFieldsWithinThePrefix()
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
}
