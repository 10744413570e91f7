using System.Runtime.CompilerServices;

namespace Protocols.Tls.Tests;

/// <summary>Hex fixtures under Fixtures/ (made on this machine; see each file's header comment).</summary>
internal static class Fixtures
{
    public static byte[] Load(string name, [CallerFilePath] string callerFile = "")
    {
        string path = Path.Combine(Path.GetDirectoryName(callerFile)!, "Fixtures", name + ".hex");
        var hex = new System.Text.StringBuilder();
        foreach (string line in File.ReadAllLines(path))
        {
            string t = line.Trim();
            if (t.Length > 0 && !t.StartsWith('#'))
            {
                hex.Append(t);
            }
        }

        return Convert.FromHexString(hex.ToString());
    }

    /// <summary>Splits a single-record handshake flight into its record header, handshake header and body.</summary>
    public static (byte[] Record, byte[] Handshake, byte[] Body) Split(byte[] record)
    {
        byte[] handshake = record[5..];
        byte[] body = handshake[4..];
        return (record[..5], handshake[..4], body);
    }
}
