namespace Protocols.Ip.Devices;

/// <summary>Which mode a device's offloads are in.</summary>
public enum OffloadMode
{
    /// <summary>The device has no offloads at all (a simulated link without them, a wrapper over such a device).</summary>
    Unsupported = 0,

    /// <summary>Offloads asked for and granted: see <see cref="DeviceOffloadStatus.Capabilities"/> for which.</summary>
    On = 1,

    /// <summary>The kernel refused the offloads asked for: the device runs in plain one-packet-per-read mode.</summary>
    Refused = 2,

    /// <summary>The caller opened the device without offloads.</summary>
    Disabled = 3,
}

/// <summary>
/// What a device's offloads are: the mode, the capabilities granted, the largest super-segment it
/// takes or hands up, and a one-line description for people (<c>serve --verbose</c> prints it).
/// </summary>
/// <param name="Mode">On, refused (plain mode), disabled by the caller, or unsupported.</param>
/// <param name="Capabilities">What the device does for the stack in this mode.</param>
/// <param name="MaxSegmentationLength">The largest IP packet of a super-segment, in bytes (0 without segmentation offload).</param>
/// <param name="Description">e.g. <c>offloads on: TUN_F_CSUM TUN_F_TSO4 TUN_F_USO4</c> or the kernel's refusal.</param>
public sealed record DeviceOffloadStatus(OffloadMode Mode, DeviceCapabilities Capabilities, int MaxSegmentationLength, string Description)
{
    /// <summary>A device without offloads.</summary>
    public static DeviceOffloadStatus None { get; } = new(OffloadMode.Unsupported, DeviceCapabilities.None, 0, "no offloads");

    /// <summary>True when the device takes TCP/IPv4 super-segments on transmit.</summary>
    public bool TcpSegmentation => (Capabilities & DeviceCapabilities.TcpSegmentationV4) != 0;

    /// <inheritdoc/>
    public override string ToString() => Description;
}
