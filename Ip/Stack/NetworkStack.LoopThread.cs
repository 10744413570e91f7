using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Protocols.Ip.Devices;
using Protocols.Ip.Devices.Linux;

namespace Protocols.Ip;

/// <summary>The loop on a thread of its own, sleeping in poll(2) over the devices' descriptors.</summary>
public sealed unsafe partial class NetworkStack
{
    // The longest one poll(2) sleeps: a device added while the loop sleeps, or one without a
    // descriptor, is looked at again at least this often.
    private const int MaxSleepMilliseconds = 100;

    private FileDescriptorHandle? _loopWakeup;
    private int _loopSleeping;

    private bool CanRunOnLoopThread()
    {
        if (!Options.DedicatedLoopThread || !OperatingSystem.IsLinux() || !ReferenceEquals(TimeProvider, TimeProvider.System) || _interfaces.Count == 0)
        {
            return false;
        }

        foreach (NetworkInterface nic in _interfaces)
        {
            if (nic.Device is not IDescriptorDevice { ReceiveDescriptor: not null })
            {
                return false;
            }
        }

        return true;
    }

    private Task RunOnLoopThread(CancellationToken cancellationToken)
    {
        int fd = LinuxNative.EventFd(0, LinuxNative.EFD_NONBLOCK | LinuxNative.EFD_CLOEXEC);
        if (fd < 0)
        {
            return RunOnTasksAsync(cancellationToken); // no eventfd: the task-based loop still works
        }

        var wakeup = new FileDescriptorHandle(fd);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() => LoopThreadMain(wakeup, done, cancellationToken))
        {
            IsBackground = true,
            Name = $"loop {Name}",
        };
        Volatile.Write(ref _loopWakeup, wakeup);
        thread.Start();
        return done.Task;
    }

    private void LoopThreadMain(FileDescriptorHandle wakeup, TaskCompletionSource done, CancellationToken cancellationToken)
    {
        using CancellationTokenRegistration stopping = cancellationToken.UnsafeRegister(static s => ((NetworkStack)s!).WakeLoopThread(), this);
        try
        {
            RunLoopThread(wakeup, cancellationToken);
            done.TrySetResult();
        }
        catch (Exception e)
        {
            done.TrySetException(e);
        }
        finally
        {
            Volatile.Write(ref _loopWakeup, null);
            Volatile.Write(ref _loopSleeping, 0);
            wakeup.Dispose();
            Volatile.Write(ref _running, 0);
        }
    }

    private void RunLoopThread(FileDescriptorHandle wakeup, CancellationToken cancellationToken)
    {
        var handles = new SafeHandle?[_interfaces.Count];
        var added = new bool[handles.Length];
        var fds = new LinuxNative.PollDescriptor[handles.Length + 1];
        int idleWakeUps = 0;
        ulong drained;
        while (!cancellationToken.IsCancellationRequested)
        {
            int work = Poll();
            if (work > 0 || !_requests.IsEmpty || _loopbackQueue.Count > 0)
            {
                idleWakeUps = 0;
                continue;
            }

            if (handles.Length != _interfaces.Count)
            {
                handles = new SafeHandle?[_interfaces.Count];
                added = new bool[handles.Length];
                fds = new LinuxNative.PollDescriptor[handles.Length + 1];
            }

            // Announce the sleep, then look at the request queue once more: a Post that enqueued
            // before the announcement is seen here, one after it writes the wake-up descriptor.
            Interlocked.Exchange(ref _loopSleeping, 1);
            if (!_requests.IsEmpty || cancellationToken.IsCancellationRequested)
            {
                Volatile.Write(ref _loopSleeping, 0);
                continue;
            }

            int timeout = MaxSleepMilliseconds;
            if (NextDeadline is { } deadline)
            {
                double milliseconds = Math.Ceiling((deadline - Now).TotalMilliseconds);
                timeout = milliseconds <= 0 ? 0 : (int)Math.Min(milliseconds, MaxSleepMilliseconds);
            }

            // A device that keeps reporting "ready" with nothing to receive (closed, or faulted)
            // must not make this loop spin: after a few such wake-ups, sleep on timers and posts only.
            bool watchDevices = idleWakeUps <= 8;
            if (!watchDevices)
            {
                timeout = Math.Min(timeout, (int)IdleBackoff.TotalMilliseconds);
            }

            int ready;
            try
            {
                fds[0] = new LinuxNative.PollDescriptor { Fd = (int)wakeup.DangerousGetHandle(), Events = LinuxNative.POLLIN };
                for (int i = 0; i < handles.Length; i++)
                {
                    handles[i] = watchDevices ? (_interfaces[i].Device as IDescriptorDevice)?.ReceiveDescriptor : null;
                    int deviceFd = handles[i] is { } handle ? AddRef(handle, added, i) : -1;
                    fds[i + 1] = new LinuxNative.PollDescriptor { Fd = deviceFd, Events = LinuxNative.POLLIN }; // a negative fd is ignored
                }

                fixed (LinuxNative.PollDescriptor* p = fds)
                {
                    ready = LinuxNative.Poll(p, (nuint)fds.Length, timeout);
                }
            }
            finally
            {
                for (int i = 0; i < handles.Length; i++)
                {
                    if (added[i])
                    {
                        added[i] = false;
                        handles[i]!.DangerousRelease();
                    }
                }

                Volatile.Write(ref _loopSleeping, 0);
            }

            Counters.WakeUps++;
            if (ready < 0)
            {
                int errno = LinuxNative.LastError;
                if (errno != LinuxNative.EINTR)
                {
                    Logger.LogWarning("{Stack}: poll failed ({Errno}); the loop backs off", Name, LinuxNative.Describe(errno));
                    Thread.Sleep(IdleBackoff);
                }

                continue;
            }

            if (fds[0].ReturnedEvents != 0)
            {
                _ = LinuxNative.Read(wakeup, (byte*)&drained, sizeof(ulong));
            }

            bool deviceWoke = false;
            for (int i = 1; i < fds.Length; i++)
            {
                deviceWoke |= fds[i].ReturnedEvents != 0;
            }

            idleWakeUps = deviceWoke && fds[0].ReturnedEvents == 0 ? idleWakeUps + 1 : 0;
            if (ready == 0 && !watchDevices)
            {
                idleWakeUps = 0; // look at the devices again after the back-off
            }
        }
    }

    // Device descriptors are referenced for the duration of one poll, so a device disposed
    // meanwhile cannot have its number reused under the poll. (The wake-up descriptor lives as
    // long as the thread: its owner disposes it after the loop.)
    private static int AddRef(SafeHandle handle, bool[] added, int index)
    {
        bool ok = false;
        try
        {
            handle.DangerousAddRef(ref ok);
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }

        added[index] = ok;
        return ok ? (int)handle.DangerousGetHandle() : -1;
    }

    /// <summary>Wakes the loop thread if it sleeps in poll(2) (a <see cref="Post"/>, or a stop).</summary>
    private void WakeLoopThread()
    {
        // The caller's enqueue must be visible before _loopSleeping is read (a store then a load:
        // only a full fence orders them), or the loop may see an empty queue and sleep while this
        // sees it awake and writes nothing: a lost wake-up, paid for with a whole poll timeout.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _loopSleeping) == 0 || Volatile.Read(ref _loopWakeup) is not { } wakeup)
        {
            return;
        }

        bool added = false;
        try
        {
            wakeup.DangerousAddRef(ref added);
            ulong one = 1;
            _ = LinuxNative.Write(wakeup, (byte*)&one, sizeof(ulong)); // EAGAIN only when the counter is huge: still readable
        }
        catch (ObjectDisposedException)
        {
            // The loop has ended.
        }
        finally
        {
            if (added)
            {
                wakeup.DangerousRelease();
            }
        }
    }
}
