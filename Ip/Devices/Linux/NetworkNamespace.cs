namespace Protocols.Ip.Devices.Linux;

/// <summary>
/// Runs code inside a Linux network namespace (setns(2) on a dedicated thread), so a device can be
/// opened there: a TUN interface is created in, and an AF_PACKET socket bound to an interface of,
/// the namespace of the thread that opens it. The descriptor keeps working from any thread afterwards.
/// </summary>
public static class NetworkNamespace
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    /// <summary>Runs <paramref name="action"/> on a new thread that has joined the network namespace <paramref name="name"/>.</summary>
    /// <typeparam name="T">What the action returns (e.g. a <see cref="TunDevice"/>).</typeparam>
    /// <param name="name">A name made with <c>ip netns add</c> (looked up in /run/netns), or a path such as <c>/proc/PID/ns/net</c>.</param>
    /// <param name="action">The work to do inside the namespace; keep it short (opening a device).</param>
    /// <returns>What <paramref name="action"/> returned; its exception is rethrown here.</returns>
    /// <exception cref="NetworkDeviceException">The namespace does not exist or cannot be joined.</exception>
    /// <exception cref="TimeoutException">The action ran for more than 30 seconds.</exception>
    public static T Invoke<T>(string name, Func<T> action)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(action);
        string path = name.Contains('/', StringComparison.Ordinal) ? name : $"/run/netns/{name}";
        T result = default!;
        Exception? failure = null;

        // The thread ends after the action, so no other code ever runs in the foreign namespace.
        var thread = new Thread(() =>
        {
            try
            {
                int fd = LinuxNative.Open(path, LinuxNative.O_CLOEXEC);
                if (fd < 0)
                {
                    throw NetworkDeviceException.FromErrno($"network namespace {name}: opening {path}", LinuxNative.LastError);
                }

                using (new FileDescriptorHandle(fd))
                {
                    if (LinuxNative.SetNamespace(fd, LinuxNative.CLONE_NEWNET) < 0)
                    {
                        throw NetworkDeviceException.FromErrno($"network namespace {name}: setns", LinuxNative.LastError);
                    }
                }

                result = action();
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        {
            IsBackground = true,
            Name = $"netns {name}",
        };
        thread.Start();
        if (!thread.Join(Limit))
        {
            throw new TimeoutException($"network namespace {name}: the action did not finish within {Limit.TotalSeconds} s");
        }

        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }

        return result;
    }
}
