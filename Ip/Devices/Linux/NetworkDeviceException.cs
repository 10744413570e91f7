namespace Protocols.Ip.Devices.Linux;

/// <summary>A Linux device could not be opened or configured; <see cref="Errno"/> is the C library's error number.</summary>
public sealed class NetworkDeviceException : IOException
{
    /// <summary>Creates the exception with a message that says what failed and why.</summary>
    /// <param name="message">One line: the device, the operation, the reason.</param>
    /// <param name="errno">The errno value (0 when none applies).</param>
    public NetworkDeviceException(string message, int errno)
        : base(message)
    {
        Errno = errno;
    }

    /// <summary>The errno value that caused the failure (0 when none applies).</summary>
    public int Errno { get; }

    /// <summary>Builds the exception for a failed call: adds the errno text and a hint for the common causes.</summary>
    internal static NetworkDeviceException FromErrno(string what, int errno)
    {
        string hint = errno switch
        {
            LinuxNative.EPERM or LinuxNative.EACCES => " (needs root or CAP_NET_ADMIN/CAP_NET_RAW)",
            _ => string.Empty,
        };
        return new NetworkDeviceException($"{what}: {LinuxNative.Describe(errno)}{hint}", errno);
    }
}
