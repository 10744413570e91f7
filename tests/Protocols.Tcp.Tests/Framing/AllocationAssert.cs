using System.Diagnostics;
using System.Reflection;
using Protocols.Tcp.Framing;

namespace Protocols.Tcp.Tests.Framing;

internal static class AllocationAssert
{
    /// <summary>True when Protocols.Tcp was compiled with optimizations (Release, as .ci/run builds it).</summary>
    public static bool Optimized { get; } =
        typeof(LengthPrefixedFraming).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled != true;

    /// <summary>
    /// In Release nothing at all may be allocated; a Debug build compiles async state machines as
    /// classes (one small object per call), so there only a per-message bound far below the message sizes holds.
    /// </summary>
    public static void NothingPerMessage(long allocated, int messages)
    {
        if (Optimized)
        {
            Assert.Equal(0, allocated);
        }
        else
        {
            Assert.True(allocated / messages < 1024, $"{allocated / messages} bytes per message");
        }
    }
}
