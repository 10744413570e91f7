using System.Runtime.InteropServices;

namespace Protocols.Ip.Devices.Linux;

/// <summary>
/// Owns a Linux file descriptor. Calls that take it add a reference for their duration, so
/// disposing the device while the loop is inside read() or write() closes the descriptor only
/// after that call returns (no descriptor-reuse hazard).
/// </summary>
internal sealed class FileDescriptorHandle : SafeHandle
{
    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    public FileDescriptorHandle(int fd)
        : base(new IntPtr(-1), ownsHandle: true)
    {
        SetHandle(new IntPtr(fd));
    }

    /// <inheritdoc/>
    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The descriptor number (for poll).</summary>
    public int Fd => (int)handle.ToInt64();

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => LinuxNative.Close((int)handle.ToInt64()) == 0;
}
