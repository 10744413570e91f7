using Protocols.Wire;

namespace Protocols.Ip.Devices;

/// <summary>Finishing a partial checksum in software (what the device would have done).</summary>
internal static class SoftwareChecksum
{
    /// <summary>
    /// Folds the Internet checksum of <c>frame[start..]</c> into the field at <c>start + offset</c>,
    /// which holds the pseudo-header sum (virtio 1.2 5.1.6.2.1). The caller has checked the offsets.
    /// </summary>
    public static void CompletePartial(Span<byte> frame, int start, int offset)
    {
        if (start + offset + 2 > frame.Length)
        {
            return;
        }

        Span<byte> field = frame.Slice(start + offset, 2);
        uint pseudo = (uint)((field[0] << 8) | field[1]);
        field.Clear();
        ushort sum = Checksum.Compute(frame[start..], pseudo);
        if (sum == 0 && offset == 6)
        {
            sum = 0xffff; // RFC 768: a computed zero UDP checksum is sent as all ones
        }

        field[0] = (byte)(sum >> 8);
        field[1] = (byte)sum;
    }
}
