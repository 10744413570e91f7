using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Protocols.Generators;

namespace Protocols.Generators.Tests;

/// <summary>The pipeline caches: unrelated edits and moved declarations do not re-emit code.</summary>
public class IncrementalTests
{
    private static readonly string[] CachedOrUnchanged = ["Cached", "Unchanged"];

    private static IEnumerable<IncrementalStepRunReason> Reasons(GeneratorRunResult result, string step) =>
        result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason);

    [Fact]
    public void An_unrelated_edit_reuses_the_model_and_the_source()
    {
        CSharpCompilation compilation = GeneratorHarness.Compile(GeneratorTests.Ipv4Source);
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation);
        GeneratorRunResult first = Assert.Single(driver.GetRunResult().Results);
        Assert.All(Reasons(first, HeaderGenerator.TrackingNames.Source), r => Assert.Equal(IncrementalStepRunReason.New, r));

        CSharpCompilation edited = compilation.AddSyntaxTrees(
            CSharpSyntaxTree.ParseText("namespace Other; /// <summary>Unrelated.</summary>\npublic class Unrelated { }", GeneratorHarness.ParseOptions, path: "Unrelated.cs"));
        driver = driver.RunGenerators(edited);
        GeneratorRunResult second = Assert.Single(driver.GetRunResult().Results);

        foreach (string step in new[] { HeaderGenerator.TrackingNames.Model, HeaderGenerator.TrackingNames.Source })
        {
            List<IncrementalStepRunReason> reasons = [.. Reasons(second, step)];
            Assert.NotEmpty(reasons);
            Assert.All(reasons, r => Assert.Contains(r.ToString(), CachedOrUnchanged));
        }

        Assert.Equal(first.GeneratedSources.Single().SourceText.ToString(), second.GeneratedSources.Single().SourceText.ToString());
    }

    [Fact]
    public void Moving_the_declaration_does_not_re_emit_the_source()
    {
        CSharpCompilation compilation = GeneratorHarness.Compile(GeneratorTests.Ipv4Source);
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation);

        // Same header, shifted down by a few blank lines: only locations change.
        SyntaxTree old = compilation.SyntaxTrees.Single();
        SyntaxTree moved = CSharpSyntaxTree.ParseText("\n\n\n" + GeneratorTests.Ipv4Source, GeneratorHarness.ParseOptions, path: old.FilePath);
        driver = driver.RunGenerators(compilation.ReplaceSyntaxTree(old, moved));
        GeneratorRunResult result = Assert.Single(driver.GetRunResult().Results);

        Assert.All(Reasons(result, HeaderGenerator.TrackingNames.Model), r => Assert.Contains(r.ToString(), CachedOrUnchanged));
        Assert.All(Reasons(result, HeaderGenerator.TrackingNames.Source), r => Assert.Contains(r.ToString(), CachedOrUnchanged));
    }

    [Fact]
    public void Changing_the_header_re_emits_it()
    {
        CSharpCompilation compilation = GeneratorHarness.Compile(GeneratorTests.Ipv4Source);
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation);
        SyntaxTree old = compilation.SyntaxTrees.Single();
        SyntaxTree changed = CSharpSyntaxTree.ParseText(GeneratorTests.Ipv4Source.Replace("[Bits(6)] public byte Dscp;", "[Bits(6)] public byte Dscp2;"), GeneratorHarness.ParseOptions, path: old.FilePath);
        driver = driver.RunGenerators(compilation.ReplaceSyntaxTree(old, changed));
        GeneratorRunResult result = Assert.Single(driver.GetRunResult().Results);
        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(result, HeaderGenerator.TrackingNames.Source));
        Assert.Contains("Dscp2", result.GeneratedSources.Single().SourceText.ToString());
    }

    [Fact]
    public void Models_hold_no_compiler_objects()
    {
        // Everything in the model must be comparable by value; symbols or syntax would defeat caching.
        // (Diagnostics keep their source locations, for #pragma, on their own output: not in the model.)
        var forbidden = new[] { typeof(ISymbol), typeof(SyntaxNode), typeof(Location), typeof(Compilation), typeof(SemanticModel) };
        var seen = new HashSet<Type>();
        var pending = new Stack<Type>([typeof(HeaderModel)]);
        while (pending.Count > 0)
        {
            Type type = pending.Pop();
            if (!seen.Add(type) || type.IsPrimitive || type == typeof(string) || type.IsEnum)
            {
                continue;
            }

            Assert.DoesNotContain(forbidden, f => f.IsAssignableFrom(type));
            foreach (var property in type.GetProperties())
            {
                pending.Push(property.PropertyType);
                foreach (Type argument in property.PropertyType.GetGenericArguments())
                {
                    pending.Push(argument);
                }
            }
        }

        Assert.Contains(typeof(HeaderModel), seen);
        Assert.Contains(typeof(FieldModel), seen);
        Assert.Contains(typeof(CheckModel), seen);
    }

    [Fact]
    public void Diagnostics_follow_a_moved_declaration()
    {
        const string bad = "using Protocols.Wire;\n[WireHeader(\"X\")] public partial struct H\n{\n    public byte A;\n    public int Bad;\n}";
        CSharpCompilation compilation = GeneratorHarness.Compile(bad);
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation);
        Diagnostic first = Assert.Single(driver.GetRunResult().Diagnostics);

        SyntaxTree old = compilation.SyntaxTrees.Single();
        SyntaxTree moved = CSharpSyntaxTree.ParseText("\n\n\n" + bad, GeneratorHarness.ParseOptions, path: old.FilePath);
        driver = driver.RunGenerators(compilation.ReplaceSyntaxTree(old, moved));
        Diagnostic second = Assert.Single(driver.GetRunResult().Diagnostics);

        Assert.Equal(first.Id, second.Id);
        Assert.Equal(first.Location.GetLineSpan().StartLinePosition.Line + 3, second.Location.GetLineSpan().StartLinePosition.Line);
        Assert.Same(moved, second.Location.SourceTree);
    }
}
