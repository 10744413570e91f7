using System.Runtime.InteropServices;

namespace Protocols.Ip.Devices;

/// <summary>
/// A device backed by a descriptor that poll(2) reports readable when <see cref="INetworkDevice.Receive(FrameHandler, int)"/>
/// may deliver frames, so that the stack's loop thread can sleep in one poll over every device
/// (and its own wake-up descriptor) instead of waiting through <see cref="INetworkDevice.WaitForReceiveAsync"/>.
/// </summary>
internal interface IDescriptorDevice
{
    /// <summary>The descriptor, or null once the device is closed (or when a wrapped device has none).</summary>
    SafeHandle? ReceiveDescriptor { get; }
}
