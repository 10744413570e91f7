using System.CommandLine;
using Protocols.Cli.CommandLine;
using Protocols.Cli.Decode;
using Protocols.Wire.Capture;

namespace Protocols.Cli.Verbs;

/// <summary><c>protocols decode FILE [--json]</c>: prints every frame of a capture, decoded by this project.</summary>
internal sealed class DecodeVerb : Verb
{
    private readonly Argument<string> _file;
    private readonly Option<bool> _json;

    /// <summary>Declares the verb's argument and options.</summary>
    public DecodeVerb()
        : base("decode",
            "Decode a pcap/pcapng capture, one line (or JSON object) per frame",
            "Reads classic pcap (either byte order, micro- or nanosecond) and pcapng with link types\n" +
            "ETHERNET (1), RAW (101) and IPV4 (228), and prints one tcpdump-style line per frame. With\n" +
            "--json, prints one JSON object per frame keyed by Wireshark display-filter field names.\n" +
            "A frame that cannot be decoded gets an error and decoding goes on; a truncated or corrupt\n" +
            "file stops with exit code 1 and the byte offset of the problem.")
    {
        _file = Add(new Argument<string>("FILE") { Description = "the capture to decode" });
        _json = Add(CommonOptions.Flag("--json", "one JSON object per frame, one per line"));
    }

    /// <inheritdoc/>
    public override int Run(ParseResult parse, VerbConsole console)
    {
        string path = parse.GetRequiredValue(_file);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file");
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
        try
        {
            Decode(stream, console.Out, parse.GetValue(_json));
        }
        catch (CaptureFormatException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }

        return CliApp.Success;
    }

    /// <summary>Decodes every frame of the capture in <paramref name="stream"/> to <paramref name="output"/>.</summary>
    /// <returns>The number of frames.</returns>
    /// <exception cref="CaptureFormatException">The capture is truncated or corrupt (frames before it are written).</exception>
    public static long Decode(Stream stream, TextWriter output, bool json)
    {
        using CaptureReader reader = CaptureFile.Open(stream, leaveOpen: true, reuseBuffer: true);
        using var writer = json ? new JsonFrameWriter(output) : null;
        long count = 0;
        while (reader.TryReadFrame(out CaptureFrame frame))
        {
            DecodedFrame decoded = FrameDissector.Decode(frame);
            if (writer is not null)
            {
                writer.Write(decoded);
            }
            else
            {
                output.WriteLine(TextFrameWriter.Format(decoded));
            }

            count++;
        }

        return count;
    }
}
