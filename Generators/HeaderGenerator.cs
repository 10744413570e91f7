using Microsoft.CodeAnalysis;

namespace Protocols.Generators
{
    /// <summary>Placeholder until the header compiler lands.</summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class HeaderGenerator : IIncrementalGenerator
    {
        /// <inheritdoc/>
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
        }
    }
}
