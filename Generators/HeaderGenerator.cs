using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Protocols.Generators
{
    /// <summary>
    /// The header compiler: for every <c>[WireHeader]</c> partial struct, emits a zero-copy Reader,
    /// a Writer, value-form Read/WriteTo, checksum helpers, Annotate and ToString
    /// (see docs/header-compiler.md for the contract).
    /// </summary>
    /// <remarks>
    /// Pipeline: ForAttributeWithMetadataName -> <see cref="Parser"/> (symbol to equatable model plus
    /// diagnostics) -> model -> <see cref="Emitter"/>. Diagnostics are reported from their own output:
    /// they keep their source locations (so <c>#pragma warning disable PROTO0xx</c> applies to them)
    /// and never enter the model, so moving a declaration, which changes only locations, re-reports
    /// the diagnostics but does not regenerate the code.
    /// </remarks>
    [Generator(LanguageNames.CSharp)]
    public sealed class HeaderGenerator : IIncrementalGenerator
    {
        /// <summary>The metadata name of the attribute that marks a header.</summary>
        public const string WireHeaderAttributeName = "Protocols.Wire.WireHeaderAttribute";

        /// <summary>Tracking names of the pipeline steps (for caching tests).</summary>
        public static class TrackingNames
        {
            /// <summary>Symbol to model plus diagnostics.</summary>
            public const string Parse = "HeaderParse";

            /// <summary>The model of each valid header.</summary>
            public const string Model = "HeaderModel";

            /// <summary>The generated source of each header.</summary>
            public const string Source = "HeaderSource";

            /// <summary>The diagnostics of each header.</summary>
            public const string Diagnostics = "HeaderDiagnostics";
        }

        /// <inheritdoc/>
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            IncrementalValuesProvider<ParseResult> parsed = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    WireHeaderAttributeName,
                    static (node, _) => node is StructDeclarationSyntax or RecordDeclarationSyntax,
                    static (ctx, ct) => Parser.Parse(ctx, ct))
                .WithTrackingName(TrackingNames.Parse);

            IncrementalValuesProvider<HeaderModel> models = parsed
                .Where(static r => r.Model is not null)
                .Select(static (r, _) => r.Model!)
                .WithTrackingName(TrackingNames.Model);

            IncrementalValuesProvider<GeneratedFile> sources = models
                .Select(static (m, _) => new GeneratedFile(Emitter.HintName(m), Emitter.Emit(m)))
                .WithTrackingName(TrackingNames.Source);

            context.RegisterSourceOutput(sources, static (spc, file) =>
                spc.AddSource(file.HintName, SourceText.From(file.Text, System.Text.Encoding.UTF8)));

            IncrementalValuesProvider<EquatableArray<DiagnosticInfo>> diagnostics = parsed
                .Select(static (r, _) => r.Diagnostics)
                .Where(static d => d.Count > 0)
                .WithTrackingName(TrackingNames.Diagnostics);

            context.RegisterSourceOutput(diagnostics, static (spc, list) =>
            {
                foreach (DiagnosticInfo info in list)
                {
                    spc.ReportDiagnostic(Protocols.Generators.Diagnostics.Create(info));
                }
            });
        }

        private sealed record GeneratedFile(string HintName, string Text);
    }
}
