using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Devices.Linux;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Cli.Bench;

/// <summary>The settings of one <c>bench --kernel</c> run.</summary>
/// <param name="Duration">How long each stream is measured (after a warm-up of a quarter of it, at most 1 s).</param>
/// <param name="Raw">A veth pair driven through AF_PACKET instead of a TUN device.</param>
/// <param name="Reference">Also measure the kernel to itself over veth, offloads on and off.</param>
/// <param name="Offloads">Ask the device for offloads (virtio-net header); false measures plain mode.</param>
/// <param name="Ipv6">Run the stack's two streams over IPv6 (2001:db8:99::/64) instead of IPv4.</param>
internal sealed record KernelBenchSettings(TimeSpan Duration, bool Raw, bool Reference, bool Offloads = true, bool Ipv6 = false, bool ReceiveCoalescing = false, int CoalescedRunSegments = 2);

/// <summary>One stream measured: bytes the receiving application read in the measured time, and the process's CPU time meanwhile.</summary>
/// <param name="Bytes">Bytes read by the receiver between the start and the end of the measurement.</param>
/// <param name="Seconds">Wall-clock seconds measured.</param>
/// <param name="CpuSeconds">CPU seconds this process used meanwhile (all its threads: the stack's loop, the application, the kernel peer's socket calls).</param>
/// <param name="UserCpuSeconds">The part of <paramref name="CpuSeconds"/> spent in user mode (the rest ran in the kernel: system calls, and the packet processing they run).</param>
internal readonly record struct StreamMeasurement(long Bytes, double Seconds, double CpuSeconds, double UserCpuSeconds = 0)
{
    /// <summary>Goodput in gigabits per second.</summary>
    public double Gbps => Seconds <= 0 ? 0 : Bytes * 8 / Seconds / 1e9;

    /// <summary>CPU nanoseconds per byte moved.</summary>
    public double CpuNsPerByte => Bytes == 0 ? 0 : CpuSeconds * 1e9 / Bytes;

    /// <summary>User-mode CPU nanoseconds per byte moved (the stack, the runtime and the application; no kernel work).</summary>
    public double UserNsPerByte => Bytes == 0 ? 0 : UserCpuSeconds * 1e9 / Bytes;

    /// <summary>Kernel-mode CPU nanoseconds per byte moved (<see cref="CpuNsPerByte"/> less <see cref="UserNsPerByte"/>).</summary>
    public double KernelNsPerByte => CpuNsPerByte - UserNsPerByte;
}

/// <summary>What a <c>bench --kernel</c> run measured.</summary>
/// <param name="Settings">The settings.</param>
/// <param name="ToKernel">The stack sending to the kernel's socket.</param>
/// <param name="FromKernel">The kernel's socket sending to the stack.</param>
/// <param name="Offloads">The device's offload mode, as it describes it.</param>
/// <param name="SystemCallsPerMegabyte">Device system calls per 10^6 bytes over both streams.</param>
/// <param name="WakeUpsPerMegabyte">Loop wake-ups per 10^6 bytes over both streams.</param>
/// <param name="ReferenceOn">Kernel to kernel over veth with offloads on (null without --reference).</param>
/// <param name="ReferenceOff">The same with TSO, GSO, GRO and checksum offload off (null without --reference, or without ethtool).</param>
/// <param name="Note">Why a reference is missing, or empty.</param>
internal sealed record KernelBenchResult(
    KernelBenchSettings Settings,
    StreamMeasurement ToKernel,
    StreamMeasurement FromKernel,
    string Offloads,
    double SystemCallsPerMegabyte,
    double WakeUpsPerMegabyte,
    StreamMeasurement? ReferenceOn,
    StreamMeasurement? ReferenceOff,
    string Note)
{
    /// <summary>Of the bytes the stack read from the kernel's stream, the share its TCP copied straight from the device's buffer into a waiting read (one copy), 0..1.</summary>
    public double ReceiveDirectShare { get; init; }

    /// <summary>CPU nanoseconds per byte of the stack's two streams together.</summary>
    public double CpuNsPerByte
    {
        get
        {
            long bytes = ToKernel.Bytes + FromKernel.Bytes;
            return bytes == 0 ? 0 : (ToKernel.CpuSeconds + FromKernel.CpuSeconds) * 1e9 / bytes;
        }
    }

    /// <summary>User-mode CPU nanoseconds per byte of the stack's two streams together (the rest of <see cref="CpuNsPerByte"/> ran in the kernel).</summary>
    public double UserNsPerByte
    {
        get
        {
            long bytes = ToKernel.Bytes + FromKernel.Bytes;
            return bytes == 0 ? 0 : (ToKernel.UserCpuSeconds + FromKernel.UserCpuSeconds) * 1e9 / bytes;
        }
    }
}

/// <summary>
/// <c>bench --kernel</c>: the stack on one end of a TUN device (or of a veth pair through
/// AF_PACKET) in a private namespace, the kernel's own TCP socket on the other, one stream each
/// way; with <c>--reference</c>, the kernel to itself between two namespaces over veth, offloads
/// on and off, in the same run. Every stream is measured at its receiver after a warm-up; CPU
/// time is this process's (the kernel's socket calls for both ends run on its threads).
/// </summary>
internal static class KernelBench
{
    private const int ChunkBytes = 256 * 1024;
    private const ushort ToKernelPort = 5201;
    private const ushort FromKernelPort = 5202;
    private static readonly Ipv4Address KernelAddress = Ipv4Address.Parse("10.99.0.1");
    private static readonly Ipv4Address StackAddress = Ipv4Address.Parse("10.99.0.2");
    private static readonly Ipv6Address KernelAddress6 = Ipv6Address.Parse("2001:db8:99::1");
    private static readonly Ipv6Address StackAddress6 = Ipv6Address.Parse("2001:db8:99::2");
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Runs the measurements; <paramref name="cancellationToken"/> (Ctrl-C) stops it early, cleaning up.</summary>
    public static KernelBenchResult Run(KernelBenchSettings settings, Action<string>? log, CancellationToken cancellationToken)
    {
        using var namespaces = new BenchNamespaces();
        StreamMeasurement? referenceOn = null, referenceOff = null;
        string note = string.Empty;
        (StreamMeasurement to, StreamMeasurement from, string offloads, double syscalls, double wakeUps, double directShare) = MeasureStack(namespaces, settings, log, cancellationToken);
        if (settings.Reference)
        {
            (referenceOn, referenceOff, note) = MeasureReference(namespaces, settings.Duration, log, cancellationToken);
        }

        return new KernelBenchResult(settings, to, from, offloads, syscalls, wakeUps, referenceOn, referenceOff, note) { ReceiveDirectShare = directShare };
    }

    private static (StreamMeasurement To, StreamMeasurement From, string Offloads, double Syscalls, double WakeUps, double DirectShare) MeasureStack(
        BenchNamespaces namespaces, KernelBenchSettings settings, Action<string>? log, CancellationToken cancellationToken)
    {
        string kernelNs = namespaces.Create();
        LinuxDevice device;
        if (settings.Raw)
        {
            string stackNs = namespaces.Create();
            BenchNamespaces.Ip(stackNs, "link", "add", "pbveth0", "type", "veth", "peer", "name", "pbveth1", "netns", kernelNs);
            BenchNamespaces.Ip(stackNs, "link", "set", "pbveth0", "up");
            BenchNamespaces.Ip(kernelNs, "addr", "add", $"{KernelAddress}/24", "dev", "pbveth1");
            if (settings.Ipv6)
            {
                BenchNamespaces.Ip(kernelNs, "-6", "addr", "add", $"{KernelAddress6}/64", "dev", "pbveth1", "nodad");
            }

            BenchNamespaces.Ip(kernelNs, "link", "set", "pbveth1", "up");
            WaitUp(stackNs, "pbveth0", cancellationToken);
            WaitUp(kernelNs, "pbveth1", cancellationToken);
            device = NetworkNamespace.Invoke(stackNs, () => RawPacketDevice.Open("pbveth0", new RawPacketDeviceOptions { Offloads = settings.Offloads }));
        }
        else
        {
            device = NetworkNamespace.Invoke(kernelNs, () => TunDevice.Open("pbtun0", new TunDeviceOptions { Offloads = settings.Offloads }));
            BenchNamespaces.Ip(kernelNs, "addr", "add", $"{KernelAddress}/24", "dev", "pbtun0");
            if (settings.Ipv6)
            {
                BenchNamespaces.Ip(kernelNs, "-6", "addr", "add", $"{KernelAddress6}/64", "dev", "pbtun0", "nodad");
            }

            BenchNamespaces.Ip(kernelNs, "link", "set", "pbtun0", "up");
            WaitUp(kernelNs, "pbtun0", cancellationToken);
        }

        log?.Invoke($"stack on {device}");
        // The loop has its own stop, not linked to Ctrl-C: closing the streams and listeners on the way
        // out needs the loop running, so it stops last, in the finally below.
        using var stop = new CancellationTokenSource();
        using var stack = new NetworkStack(new NetworkStackOptions { Name = "bench-kernel", RequestQueueCapacity = 65536, ReceiveCoalescing = settings.ReceiveCoalescing });
        Task? loop = null;
        try
        {
            stack.AddInterface(device, new InterfaceConfiguration
            {
                Addresses = settings.Ipv6 ? [new InterfaceAddress(StackAddress, 24), new InterfaceAddress(StackAddress6, 64)] : [new InterfaceAddress(StackAddress, 24)],
            });
            TcpLayer tcp = stack.UseTcp(new TcpStackOptions { Name = "bench-kernel", CoalescedRunSegments = settings.CoalescedRunSegments });
            loop = Task.Run(() => stack.RunAsync(stop.Token), CancellationToken.None);

            // RFC 4862 5.4: on the veth pair the IPv6 address is tentative until duplicate address detection is over.
            stack.WaitForAddressesAsync(cancellationToken).WaitAsync(ConnectTimeout, cancellationToken).GetAwaiter().GetResult();
            IpAddress kernelAddress = settings.Ipv6 ? KernelAddress6 : KernelAddress;
            IpAddress stackAddress = settings.Ipv6 ? StackAddress6 : StackAddress;
            StackCountersSnapshot before = stack.Counters.Snapshot();
            StreamMeasurement to = StackToKernel(kernelNs, tcp, kernelAddress, settings.Duration, cancellationToken);
            log?.Invoke($"stack -> kernel: {to.Gbps:0.000} Gbit/s");
            long directBefore = tcp.Counters.BytesReadDirect, ringBefore = tcp.Counters.BytesReadFromRing, runsBefore = tcp.Counters.BytesReadDirectFromRuns;
            StreamMeasurement from = KernelToStack(kernelNs, tcp, stackAddress, settings.Duration, cancellationToken);
            log?.Invoke($"kernel -> stack: {from.Gbps:0.000} Gbit/s");
            double direct = tcp.Counters.BytesReadDirect - directBefore; // run bytes among them took two copies
            double read = direct + (tcp.Counters.BytesReadFromRing - ringBefore);
            direct -= tcp.Counters.BytesReadDirectFromRuns - runsBefore;
            log?.Invoke($"receive coalescing {(settings.ReceiveCoalescing ? "on" : "off")}: {tcp.Counters.CoalescedRuns} runs of {tcp.Counters.CoalescedSegments} segments merged, {tcp.Counters.SegmentsReceived} segments received");
            StackCountersSnapshot after = stack.Counters.Snapshot();
            double bytes = (after.BytesReceived + after.BytesSent) - (before.BytesReceived + before.BytesSent);
            double calls = (after.Devices.ReceiveCalls + after.Devices.SendCalls) - (before.Devices.ReceiveCalls + before.Devices.SendCalls);
            double wakeUps = after.WakeUps - before.WakeUps;
            return (to, from, device.OffloadStatus.Description, bytes == 0 ? 0 : calls * 1e6 / bytes, bytes == 0 ? 0 : wakeUps * 1e6 / bytes, read == 0 ? 0 : direct / read);
        }
        finally
        {
            stop.Cancel();
            try
            {
                loop?.Wait(TimeSpan.FromSeconds(10));
            }
            catch (AggregateException)
            {
            }

            device.Dispose();
        }
    }

    private static StreamMeasurement StackToKernel(string kernelNs, TcpLayer tcp, IpAddress kernelAddress, TimeSpan duration, CancellationToken cancellationToken)
    {
        using Socket listener = NetworkNamespace.Invoke(kernelNs, () => Listen(kernelAddress, ToKernelPort));
        using var receiver = new SocketReceiver(listener);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var connectLimit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connectLimit.CancelAfter(ConnectTimeout);
        TcpStream stream = tcp.ConnectAsync(new IpEndpoint(kernelAddress, ToKernelPort), connectLimit.Token).GetAwaiter().GetResult();
        Task sender = Task.Run(async () =>
        {
            byte[] chunk = new byte[ChunkBytes];
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await stream.WriteAsync(chunk, stop.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }, CancellationToken.None);
        try
        {
            return Measure(() => receiver.Bytes, duration, cancellationToken);
        }
        finally
        {
            stop.Cancel();
            _ = sender.Wait(TimeSpan.FromSeconds(10));
            stream.Abort();
            stream.Dispose();
        }
    }

    private static StreamMeasurement KernelToStack(string kernelNs, TcpLayer tcp, IpAddress stackAddress, TimeSpan duration, CancellationToken cancellationToken)
    {
        using Protocols.Tcp.TcpListener listener = tcp.Listen(FromKernelPort);
        Task<TcpStream> accepted = listener.AcceptAsync(cancellationToken);
        using Socket client = NetworkNamespace.Invoke(kernelNs, () => new Socket(stackAddress.IsIpv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        // Bounded and cancellable: after Ctrl-C the stack's loop stops, and a blocking connect to it
        // would sit through the kernel's SYN retries (about two minutes).
        using (var connectLimit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            connectLimit.CancelAfter(ConnectTimeout);
            client.ConnectAsync(new IPEndPoint(IPAddress.Parse(stackAddress.ToString()), FromKernelPort), connectLimit.Token).AsTask().GetAwaiter().GetResult();
        }

        if (!accepted.Wait(ConnectTimeout, cancellationToken))
        {
            throw new TimeoutException("the kernel's connection was not accepted within 10 s");
        }

        using TcpStream stream = accepted.Result;
        using var sender = new SocketSender(client);
        long received = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task reader = Task.Run(async () =>
        {
            byte[] buffer = new byte[ChunkBytes];
            try
            {
                int n;
                while ((n = await stream.ReadAsync(buffer, stop.Token).ConfigureAwait(false)) > 0)
                {
                    Interlocked.Add(ref received, n);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
            {
            }
        }, CancellationToken.None);
        try
        {
            return Measure(() => Interlocked.Read(ref received), duration, cancellationToken);
        }
        finally
        {
            sender.Stop();
            stop.Cancel();
            _ = reader.Wait(TimeSpan.FromSeconds(10));
            stream.Abort();
        }
    }

    private static (StreamMeasurement? On, StreamMeasurement? Off, string Note) MeasureReference(BenchNamespaces namespaces, TimeSpan duration, Action<string>? log, CancellationToken cancellationToken)
    {
        string a = namespaces.Create();
        string b = namespaces.Create();
        BenchNamespaces.Ip(a, "link", "add", "pbref0", "type", "veth", "peer", "name", "pbref1", "netns", b);
        BenchNamespaces.Ip(a, "addr", "add", "10.98.0.1/24", "dev", "pbref0");
        BenchNamespaces.Ip(b, "addr", "add", "10.98.0.2/24", "dev", "pbref1");
        BenchNamespaces.Ip(a, "link", "set", "pbref0", "up");
        BenchNamespaces.Ip(b, "link", "set", "pbref1", "up");
        WaitUp(a, "pbref0", cancellationToken);
        WaitUp(b, "pbref1", cancellationToken);

        StreamMeasurement on = KernelToKernel(a, b, duration, cancellationToken);
        log?.Invoke($"kernel -> kernel over veth, offloads on: {on.Gbps:0.000} Gbit/s");
        string[] off = ["-K", "", "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off"];
        (int codeA, string outA) = BenchNamespaces.Exec(a, "ethtool", [.. off.Select(s => s.Length == 0 ? "pbref0" : s)]);
        (int codeB, string outB) = BenchNamespaces.Exec(b, "ethtool", [.. off.Select(s => s.Length == 0 ? "pbref1" : s)]);
        if (codeA != 0 || codeB != 0)
        {
            return (on, null, $"reference with offloads off not measured: ethtool failed ({(codeA != 0 ? outA : outB).Trim()})");
        }

        StreamMeasurement offMeasured = KernelToKernel(a, b, duration, cancellationToken);
        log?.Invoke($"kernel -> kernel over veth, offloads off: {offMeasured.Gbps:0.000} Gbit/s");
        return (on, offMeasured, string.Empty);
    }

    private static StreamMeasurement KernelToKernel(string receiverNs, string senderNs, TimeSpan duration, CancellationToken cancellationToken)
    {
        var address = Ipv4Address.Parse("10.98.0.1");
        using Socket listener = NetworkNamespace.Invoke(receiverNs, () => Listen(address, ToKernelPort));
        using var receiver = new SocketReceiver(listener);
        using Socket client = NetworkNamespace.Invoke(senderNs, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        client.Connect(new IPEndPoint(IPAddress.Parse(address.ToString()), ToKernelPort));
        using var sender = new SocketSender(client);
        return Measure(() => receiver.Bytes, duration, cancellationToken);
    }

    /// <summary>Waits a warm-up, then samples the receiver's byte count and this process's CPU time over <paramref name="duration"/>.</summary>
    private static StreamMeasurement Measure(Func<long> bytes, TimeSpan duration, CancellationToken cancellationToken)
    {
        TimeSpan warmUp = TimeSpan.FromTicks(Math.Min(duration.Ticks / 4, TimeSpan.TicksPerSecond));
        cancellationToken.WaitHandle.WaitOne(warmUp);
        cancellationToken.ThrowIfCancellationRequested();
        using var process = Process.GetCurrentProcess();
        TimeSpan cpu0 = process.TotalProcessorTime;
        TimeSpan user0 = process.UserProcessorTime;
        long bytes0 = bytes();
        var watch = Stopwatch.StartNew();
        cancellationToken.WaitHandle.WaitOne(duration);
        long bytes1 = bytes();
        double seconds = watch.Elapsed.TotalSeconds;
        process.Refresh();
        TimeSpan cpu1 = process.TotalProcessorTime;
        TimeSpan user1 = process.UserProcessorTime;
        cancellationToken.ThrowIfCancellationRequested();
        return new StreamMeasurement(bytes1 - bytes0, seconds, (cpu1 - cpu0).TotalSeconds, (user1 - user0).TotalSeconds);
    }

    private static Socket Listen(IpAddress address, ushort port)
    {
        var socket = new Socket(address.IsIpv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(IPAddress.Parse(address.ToString()), port));
            socket.Listen(4);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static void WaitUp(string ns, string device, CancellationToken cancellationToken)
    {
        // A new link's queueing discipline starts up to a second after "up": wait for operstate UP (TUN: UNKNOWN).
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            (int code, string output) = BenchNamespaces.Exec(ns, "cat", $"/sys/class/net/{device}/operstate");
            if (code == 0 && output.Trim() is "up" or "unknown")
            {
                return;
            }

            cancellationToken.WaitHandle.WaitOne(50);
            cancellationToken.ThrowIfCancellationRequested();
        }

        throw new TimeoutException($"{device} in {ns} did not come up within 10 s");
    }

    /// <summary>Accepts one connection on a kernel socket and reads it to the end on its own thread, counting bytes.</summary>
    private sealed class SocketReceiver : IDisposable
    {
        private readonly Socket _listener;
        private readonly Thread _thread;
        private Socket? _accepted;
        private long _bytes;

        public SocketReceiver(Socket listener)
        {
            _listener = listener;
            _thread = new Thread(Run) { IsBackground = true, Name = "bench kernel receiver" };
            _thread.Start();
        }

        public long Bytes => Interlocked.Read(ref _bytes);

        public void Dispose()
        {
            _listener.Dispose();
            _accepted?.Dispose();
            _thread.Join(TimeSpan.FromSeconds(10));
        }

        private void Run()
        {
            byte[] buffer = new byte[ChunkBytes];
            try
            {
                _accepted = _listener.Accept();
                _accepted.ReceiveTimeout = 10_000;
                int n;
                while ((n = _accepted.Receive(buffer)) > 0)
                {
                    Interlocked.Add(ref _bytes, n);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>Writes to a connected kernel socket as fast as it takes data, on its own thread, until stopped.</summary>
    private sealed class SocketSender : IDisposable
    {
        private readonly Socket _socket;
        private readonly Thread _thread;
        private volatile bool _stop;

        public SocketSender(Socket socket)
        {
            _socket = socket;
            _socket.SendTimeout = 10_000;
            _thread = new Thread(Run) { IsBackground = true, Name = "bench kernel sender" };
            _thread.Start();
        }

        public void Stop()
        {
            _stop = true;
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            _thread.Join(TimeSpan.FromSeconds(10));
        }

        public void Dispose()
        {
            if (!_stop)
            {
                Stop();
            }
        }

        private void Run()
        {
            byte[] chunk = new byte[ChunkBytes];
            try
            {
                while (!_stop)
                {
                    _socket.Send(chunk);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
