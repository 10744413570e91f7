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
    /// In Release no message may allocate: the smallest object is 24 bytes, so anything allocated per
    /// message would total at least 24 bytes per message; the bound of 4 leaves room only for a one-off
    /// allocation on the thread that is not the code under test's (3.9 KB once in 2,800 messages was
    /// seen on a loaded machine). A Debug build compiles async state
    /// machines as classes (one small object per call), so there only a per-message bound far below
    /// the message sizes holds.
    /// </summary>
    public static void NothingPerMessage(long allocated, int messages)
    {
        if (Optimized)
        {
            Assert.True(allocated < 4L * messages, $"{allocated} bytes allocated over {messages} messages");
        }
        else
        {
            Assert.True(allocated / messages < 1024, $"{allocated / messages} bytes per message");
        }
    }
}
