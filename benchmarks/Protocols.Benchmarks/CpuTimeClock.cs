using System.Runtime.InteropServices;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace Protocols.Benchmarks;

/// <summary>
/// A BenchmarkDotNet clock that counts the CPU time of the calling thread (Linux
/// CLOCK_THREAD_CPUTIME_ID) instead of wall time: on a machine shared with other work, time the
/// benchmark spends waiting for a core is not counted, so two builds compared in the same session
/// differ by what they execute, not by who else ran meanwhile. It runs in process, where one
/// thread runs the iterations and reads the clock.
/// </summary>
internal sealed class CpuTimeClock : IClock
{
    private const int ClockThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID, linux/time.h

    public string Title => "Thread CPU time";

    public bool IsAvailable => OperatingSystem.IsLinux();

    public Frequency Frequency => new(1_000_000_000);

    public long GetTimestamp()
    {
        if (clock_gettime(ClockThreadCpuTime, out TimeSpec now) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        }

        return (now.Seconds * 1_000_000_000) + now.Nanoseconds;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int clock_gettime(int clockId, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}

/// <summary>
/// With the environment variable <c>BENCH_CPU_TIME=1</c>, the benchmarks of a class with this config
/// are timed by <see cref="CpuTimeClock"/> (see benchmarks/compare.sh); otherwise by wall time, as usual.
/// </summary>
internal sealed class CpuTimeConfig : ManualConfig
{
    public CpuTimeConfig()
    {
        if (Environment.GetEnvironmentVariable("BENCH_CPU_TIME") == "1")
        {
            AddJob(Job.Default.WithClock(new CpuTimeClock()).WithToolchain(InProcessEmitToolchain.Instance).WithId("CpuTime"));
        }
    }
}
