using System.Collections.Generic;
using System.Linq;

namespace Protocols.Generators
{
    /// <summary>
    /// The names of every member the emitter generates, in one place: the emitter declares and calls
    /// members through these constants, and the parser rejects a field whose name one of them
    /// (or a per-field name of another field) would take, so a field can never collide with
    /// generated code (PROTO010).
    /// </summary>
    internal static class Names
    {
        // The header struct.
        public const string LayerName = "LayerName";
        public const string FixedLength = "FixedLength";
        public const string Fields = "Fields";
        public const string FirstFieldBeyond = "FirstFieldBeyond";
        public const string TryRead = "TryRead";
        public const string TryReadHeader = "TryReadHeader";
        public const string ReadError = "ReadError";
        public const string Read = "Read";
        public const string WriteTo = "WriteTo";
        public const string TryWriteTo = "TryWriteTo";
        public const string FixedPart = "FixedPart";
        public const string ThrowTooShort = "ThrowTooShort";
        public const string ToStringMethod = "ToString";
        public const string FormatEnum = "FormatEnum";
        public const string Annotate = "Annotate";
        public const string ChecksummedBytes = "ChecksummedBytes";
        public const string SumWithoutChecksum = "SumWithoutChecksum";
        public const string ChecksumWord = "ChecksumWord";
        public const string ComputeChecksum = "ComputeChecksum";
        public const string VerifyChecksum = "VerifyChecksum";
        public const string FillChecksum = "FillChecksum";
        public const string Reader = "Reader";
        public const string Writer = "Writer";

        // [Prefix(n)] headers.
        public const string PrefixLength = "PrefixLength";
        public const string TryReadPrefix = "TryReadPrefix";
        public const string PrefixError = "PrefixError";
        public const string PrefixReader = "PrefixReader";
        public const string PrefixPart = "PrefixPart";

        // Reader (and PrefixReader) members.
        public const string Bytes = "Bytes";
        public const string HeaderLength = "HeaderLength";
        public const string DeclaredLength = "DeclaredLength";
        public const string IsTruncated = "IsTruncated";
        public const string Header = "Header";
        public const string Options = "Options";
        public const string Payload = "Payload";
        public const string ToValue = "ToValue";
        public const string BytesField = "_bytes";
        public const string HeaderLengthField = "_headerLength";
        public const string DeclaredLengthField = "_declaredLength";

        // Writer members.
        public const string Fixed = "Fixed";
        public const string SetAll = "SetAll";
        public const string WriteConstants = "WriteConstants";
        public const string WrittenHeaderLength = "WrittenHeaderLength";

        /// <summary>The names above that every header may have: a field may take none of them.</summary>
        public static readonly IReadOnlyCollection<string> Members = new HashSet<string>
        {
            LayerName, FixedLength, Fields, FirstFieldBeyond, TryRead, TryReadHeader, ReadError, Read, WriteTo, TryWriteTo,
            FixedPart, ThrowTooShort, ToStringMethod, FormatEnum, Annotate, ChecksummedBytes, SumWithoutChecksum, ChecksumWord,
            ComputeChecksum, VerifyChecksum, FillChecksum, Reader, Writer,
            Bytes, HeaderLength, DeclaredLength, IsTruncated, Header, Options, Payload, ToValue, BytesField, HeaderLengthField, DeclaredLengthField,
            Fixed, SetAll, WriteConstants, WrittenHeaderLength,
        };

        /// <summary>The names only a [Prefix] header has (a field of another header may be called PrefixLength, as NDP's is).</summary>
        public static readonly IReadOnlyCollection<string> PrefixMembers = new HashSet<string>
        {
            PrefixLength, TryReadPrefix, PrefixError, PrefixReader, PrefixPart,
        };

        /// <summary>Whether a field called <paramref name="name"/> would collide with a member generated for every header or, with [Prefix], for prefix readers.</summary>
        public static bool IsReserved(string name, bool hasPrefix) => Members.Contains(name) || (hasPrefix && PrefixMembers.Contains(name));

        /// <summary>The private static getter of a field, on the header.</summary>
        public static string Getter(string field) => "Get" + field;

        /// <summary>The private static setter of a field, on the header.</summary>
        public static string Setter(string field) => "Set" + field;

        /// <summary>The in-place bytes of a fixed-array field, on the Reader and the Writer.</summary>
        public static string BytesOf(string field) => field + "Bytes";

        /// <summary>The RFC 1624 setter of a field the checksum covers, on the Writer.</summary>
        public static string UpdatingChecksum(string field) => "Set" + field + "UpdatingChecksum";

        /// <summary>The names generated for one field (besides the Reader and Writer properties named like it).</summary>
        public static IEnumerable<string> PerField(FieldModel field, bool headerHasChecksum)
        {
            yield return Getter(field.Name);
            yield return Setter(field.Name);
            if (field.Kind == FieldKind.FixedArray)
            {
                yield return BytesOf(field.Name);
            }

            if (headerHasChecksum && field.Role != FieldRole.Checksum)
            {
                yield return UpdatingChecksum(field.Name);
            }
        }
    }
}
