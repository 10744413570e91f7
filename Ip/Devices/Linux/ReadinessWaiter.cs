using System.Threading.Tasks.Sources;

namespace Protocols.Ip.Devices.Linux;

/// <summary>
/// Turns "a non-blocking descriptor became readable" into a reusable <see cref="ValueTask"/>
/// without parking a thread-pool thread: one dedicated background thread per device sleeps in
/// poll(2) on the descriptor and an eventfd. The descriptor is watched only while someone waits
/// (so a readable descriptor the loop has not drained yet does not make the thread spin); the
/// eventfd wakes the thread when a wait starts and when the device is disposed. poll has a
/// timeout, so the thread also notices disposal on its own.
/// </summary>
/// <remarks>One waiter at a time (the stack's loop). Continuations run asynchronously, never on the poll thread.</remarks>
internal sealed unsafe class ReadinessWaiter : IValueTaskSource, IDisposable
{
    /// <summary>How long one poll(2) sleeps at most before the thread looks at its state again.</summary>
    internal const int PollTimeoutMilliseconds = 200;

    private const int Idle = 0;
    private const int Armed = 1;
    private const int Completing = 2;

    private readonly FileDescriptorHandle _descriptor;
    private readonly FileDescriptorHandle _wakeup;
    private readonly Thread _thread;
    private ManualResetValueTaskSourceCore<bool> _core;
    private CancellationTokenRegistration _registration;
    private CancellationToken _token;
    private int _state;
    private volatile bool _disposed;

    /// <summary>Starts the poll thread for <paramref name="descriptor"/> (which the caller keeps owning).</summary>
    public ReadinessWaiter(FileDescriptorHandle descriptor, string name)
    {
        _descriptor = descriptor;
        int wakeup = LinuxNative.EventFd(0, LinuxNative.EFD_NONBLOCK | LinuxNative.EFD_CLOEXEC);
        if (wakeup < 0)
        {
            throw NetworkDeviceException.FromErrno($"{name}: eventfd", LinuxNative.LastError);
        }

        _wakeup = new FileDescriptorHandle(wakeup);
        _core.RunContinuationsAsynchronously = true;
        _thread = new Thread(PollLoop) { IsBackground = true, Name = $"poll {name}" };
        _thread.Start();
    }

    /// <summary>True when the descriptor has data to read right now (a poll with a zero timeout).</summary>
    public bool IsReadable()
    {
        bool added = false;
        try
        {
            _descriptor.DangerousAddRef(ref added);
            var fd = new LinuxNative.PollDescriptor { Fd = _descriptor.Fd, Events = LinuxNative.POLLIN };
            return LinuxNative.Poll(&fd, 1, 0) > 0 && fd.ReturnedEvents != 0;
        }
        catch (ObjectDisposedException)
        {
            return true; // closed: the waiter must not block
        }
        finally
        {
            if (added)
            {
                _descriptor.DangerousRelease();
            }
        }
    }

    /// <summary>Completes when the descriptor is readable, the waiter is disposed, or on cancellation.</summary>
    public ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        if (_disposed)
        {
            return default;
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (IsReadable())
        {
            return default;
        }

        if (Volatile.Read(ref _state) != Idle)
        {
            throw new InvalidOperationException("only one WaitForReceiveAsync may be pending on a device");
        }

        _core.Reset();
        _token = cancellationToken;

        // Register before arming so TryComplete always sees this wait's registration; a
        // cancellation that fires in between is caught by the check after arming.
        _registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static s => ((ReadinessWaiter)s!).TryComplete(canceled: true), this)
            : default;
        Volatile.Write(ref _state, Armed);
        if (cancellationToken.IsCancellationRequested)
        {
            TryComplete(canceled: true);
        }

        Wake();
        if (_disposed)
        {
            TryComplete(canceled: false); // raced with Dispose after its final completion
        }

        return new ValueTask(this, _core.Version);
    }

    /// <inheritdoc/>
    public void GetResult(short token) => _core.GetResult(token);

    /// <inheritdoc/>
    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    /// <inheritdoc/>
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>Stops the poll thread (bounded wait) and completes a pending wait.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Wake();
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join(TimeSpan.FromSeconds(2));
        }

        TryComplete(canceled: false);
        _wakeup.Dispose();
    }

    private void TryComplete(bool canceled)
    {
        if (Interlocked.CompareExchange(ref _state, Completing, Armed) != Armed)
        {
            return;
        }

        _registration.Unregister();
        _registration = default;
        CancellationToken token = _token;
        _token = default;
        Volatile.Write(ref _state, Idle);
        if (canceled)
        {
            _core.SetException(new OperationCanceledException(token));
        }
        else
        {
            _core.SetResult(true);
        }
    }

    private void Wake()
    {
        bool added = false;
        try
        {
            _wakeup.DangerousAddRef(ref added);
            ulong one = 1;
            _ = LinuxNative.Write(_wakeup, (byte*)&one, sizeof(ulong)); // EAGAIN only when the counter is huge: still readable
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added)
            {
                _wakeup.DangerousRelease();
            }
        }
    }

    private void PollLoop()
    {
        bool descriptorAdded = false;
        bool wakeupAdded = false;
        try
        {
            // Hold both descriptors open for the thread's lifetime; Dispose closes them after Join.
            _descriptor.DangerousAddRef(ref descriptorAdded);
            _wakeup.DangerousAddRef(ref wakeupAdded);
            LinuxNative.PollDescriptor* fds = stackalloc LinuxNative.PollDescriptor[2];
            ulong drained;
            while (!_disposed)
            {
                bool armed = Volatile.Read(ref _state) == Armed;
                fds[0] = new LinuxNative.PollDescriptor { Fd = _descriptor.Fd, Events = armed ? LinuxNative.POLLIN : (short)0 };
                fds[1] = new LinuxNative.PollDescriptor { Fd = _wakeup.Fd, Events = LinuxNative.POLLIN };
                int ready = LinuxNative.Poll(fds, 2, PollTimeoutMilliseconds);
                if (ready < 0)
                {
                    int errno = LinuxNative.LastError;
                    if (errno == LinuxNative.EINTR)
                    {
                        continue;
                    }

                    // ENOMEM is transient (EBADF cannot happen: both descriptors are referenced);
                    // back off briefly instead of spinning, and release the waiter so the loop retries.
                    TryComplete(canceled: false);
                    Thread.Sleep(10);
                    continue;
                }

                if (fds[1].ReturnedEvents != 0)
                {
                    _ = LinuxNative.Read(_wakeup, (byte*)&drained, sizeof(ulong));
                }

                // POLLERR/POLLHUP/POLLNVAL wake the waiter too: Receive then sees the error and counts it.
                if (armed && fds[0].ReturnedEvents != 0)
                {
                    TryComplete(canceled: false);
                }
            }
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (descriptorAdded)
            {
                _descriptor.DangerousRelease();
            }

            if (wakeupAdded)
            {
                _wakeup.DangerousRelease();
            }

            TryComplete(canceled: false);
        }
    }
}
