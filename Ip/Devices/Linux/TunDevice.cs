using System.Runtime.InteropServices;
using Protocols.Wire;

namespace Protocols.Ip.Devices.Linux;

/// <summary>
/// A Linux TUN device (<c>/dev/net/tun</c>, IFF_TUN | IFF_NO_PI): every read is one IP packet the
/// kernel routed to the interface, every write one IP packet the kernel receives from it.
/// </summary>
/// <remarks>
/// <see cref="Open"/> creates the interface or attaches to an existing one of that name (a device
/// made with <c>ip tuntap add NAME mode tun</c> works, and stays when this object is disposed; a
/// device created here disappears with it). The kernel side (address, <c>up</c>) is configured by
/// the caller. The device lives in the network namespace of the calling thread: see
/// <see cref="NetworkNamespace.Invoke{T}(string, Func{T})"/>.
/// </remarks>
public sealed unsafe class TunDevice : LinuxDevice
{
    private const string ClonePath = "/dev/net/tun";

    private TunDevice(FileDescriptorHandle descriptor, string name, int mtu, bool attached)
        : base(descriptor, name, mtu, default)
    {
        Attached = attached;
    }

    /// <inheritdoc/>
    public override DeviceMedium Medium => DeviceMedium.Ip;

    /// <summary>True when the interface existed before <see cref="Open"/> (attached rather than created).</summary>
    public bool Attached { get; }

    /// <summary>Opens (creating if needed) the TUN interface <paramref name="name"/>.</summary>
    /// <param name="name">The interface name, e.g. <c>tun0</c> (a <c>%d</c> lets the kernel pick the number).</param>
    /// <param name="mtu">The stack's MTU; null reads the interface's (SIOCGIFMTU). The kernel's MTU is not changed.</param>
    /// <returns>The open device; dispose it to close the descriptor.</returns>
    /// <exception cref="ArgumentException">The name is not a valid interface name.</exception>
    /// <exception cref="NetworkDeviceException">No <c>/dev/net/tun</c>, no permission, or the name belongs to another kind of device.</exception>
    public static TunDevice Open(string name, int? mtu = null)
    {
        LinuxNative.ValidateInterfaceName(name, nameof(name));
        ValidateMtu(mtu);
        bool existed = !name.Contains('%', StringComparison.Ordinal) && LinuxNative.InterfaceNameToIndex(name) != 0;

        int fd = LinuxNative.Open(ClonePath, LinuxNative.O_RDWR | LinuxNative.O_NONBLOCK | LinuxNative.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = LinuxNative.LastError;
            throw errno is LinuxNative.ENOENT or LinuxNative.ENODEV or LinuxNative.ENXIO
                ? new NetworkDeviceException($"{name}: {ClonePath} does not exist (load the tun module, or give the container the device)", errno)
                : NetworkDeviceException.FromErrno($"{name}: opening {ClonePath}", errno);
        }

        var descriptor = new FileDescriptorHandle(fd);
        try
        {
            LinuxNative.InterfaceRequest request = LinuxNative.CreateRequest(name);
            request.Value = LinuxNative.IFF_TUN | LinuxNative.IFF_NO_PI;
            if (LinuxNative.Ioctl(descriptor, LinuxNative.TUNSETIFF, &request) < 0)
            {
                int errno = LinuxNative.LastError;
                throw errno switch
                {
                    LinuxNative.EBUSY => new NetworkDeviceException($"{name}: the TUN device is already open in another process (TUNSETIFF: {LinuxNative.Describe(errno)})", errno),
                    LinuxNative.EINVAL => new NetworkDeviceException($"{name}: an interface of that name exists and is not a TUN device without packet information (a TAP, or made with pi?) (TUNSETIFF: {LinuxNative.Describe(errno)})", errno),
                    _ => NetworkDeviceException.FromErrno($"{name}: creating or attaching the TUN device (TUNSETIFF)", errno),
                };
            }

            // The kernel writes back the real name (it fills in a %d).
            string actual = Marshal.PtrToStringUTF8((nint)request.Name) ?? name;
            int deviceMtu = mtu ?? QueryInterfaceMtu(actual);
            return new TunDevice(descriptor, actual, deviceMtu, existed);
        }
        catch
        {
            descriptor.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    private protected override int ReadFrame(SafeHandle descriptor, byte* buffer, int length, out bool discard)
    {
        discard = false;
        nint n = LinuxNative.Read(descriptor, buffer, (nuint)length);
        return n < 0 ? -LinuxNative.LastError : (int)n;
    }

    /// <inheritdoc/>
    private protected override nint WriteFrame(SafeHandle descriptor, byte* frame, int length) =>
        LinuxNative.Write(descriptor, frame, (nuint)length);

    private static int QueryInterfaceMtu(string name)
    {
        int fd = LinuxNative.Socket(LinuxNative.AF_INET, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw NetworkDeviceException.FromErrno($"{name}: socket for SIOCGIFMTU", LinuxNative.LastError);
        }

        using var socket = new FileDescriptorHandle(fd);
        return QueryMtu(socket, name);
    }
}
