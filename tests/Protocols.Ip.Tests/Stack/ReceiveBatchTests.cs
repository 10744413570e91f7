using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Stack;

/// <summary>
/// How <see cref="NetworkStack.Poll"/> interleaves a device's receive batch with requests: a
/// request queued before the batch runs before its frames; one posted to run between frames cuts
/// the batch at the next frame, after the batch was ended for the transports
/// (<see cref="IIpTransport.OnReceiveBatchEnd"/>), and the frames that follow form the next batch;
/// an ordinary one waits for the batch's end; a transport that asks with
/// <see cref="NetworkStack.RequestReceiveBatchEnd"/> is told when the batch ends, and only inside
/// a batch may it ask.
/// </summary>
public class ReceiveBatchTests
{
    private const IpProtocol Experimental = (IpProtocol)253; // RFC 3692

    private static readonly Ipv4Address Local = Ipv4Address.Create(10, 0, 0, 2);
    private static readonly Ipv4Address Remote = Ipv4Address.Create(10, 0, 0, 1);

    [Fact]
    public void A_request_posted_between_frames_during_a_batch_runs_there_after_the_batch_ended_for_the_transports()
    {
        (NetworkStack stack, TestDevice device, BatchTransport transport) = Setup();
        for (byte i = 1; i <= 5; i++)
        {
            device.Inject(Packets.Ip(Remote, Local, Experimental, [i]));
        }

        // At the second datagram the transport asks for the batch's end and queues a request, as
        // an application thread would while the loop drains the device.
        transport.OnData = (s, n) =>
        {
            Assert.True(s.InReceiveBatch);
            Assert.True(s.RequestReceiveBatchEnd());
            if (n == 2)
            {
                s.Post(_ => transport.Events.Add("queued"));
                s.PostBetweenFrames(_ => transport.Events.Add("request"));
            }
        };
        stack.Poll();

        // The request queued before it runs with it, in order.
        Assert.Equal(["data 1", "data 2", "end", "queued", "request", "data 3", "data 4", "data 5", "end"], transport.Events);
    }

    [Fact]
    public void An_ordinary_request_queued_during_a_batch_waits_for_its_end()
    {
        (NetworkStack stack, TestDevice device, BatchTransport transport) = Setup();
        for (byte i = 1; i <= 3; i++)
        {
            device.Inject(Packets.Ip(Remote, Local, Experimental, [i]));
        }

        transport.OnData = (s, n) =>
        {
            if (n == 1)
            {
                s.Post(_ => transport.Events.Add("request"));
            }
        };
        stack.Poll();

        Assert.Equal(["data 1", "data 2", "data 3", "request"], transport.Events);
    }

    [Fact]
    public void A_between_frames_request_queued_before_the_poll_runs_before_the_frames_and_inside_the_batch()
    {
        (NetworkStack stack, TestDevice device, BatchTransport transport) = Setup();
        device.Inject(Packets.Ip(Remote, Local, Experimental, [1]));
        bool inBatch = false;
        bool asked = false;
        stack.PostBetweenFrames(s =>
        {
            inBatch = s.InReceiveBatch;
            asked = s.RequestReceiveBatchEnd(); // the batch's end comes after its frames
            transport.Events.Add("request");
        });
        stack.Poll();

        Assert.True(inBatch);
        Assert.True(asked);
        Assert.Equal(["request", "data 1", "end"], transport.Events);
    }

    [Fact]
    public void An_ordinary_request_queued_before_the_poll_runs_after_the_frames_outside_the_batch()
    {
        (NetworkStack stack, TestDevice device, BatchTransport transport) = Setup();
        device.Inject(Packets.Ip(Remote, Local, Experimental, [1]));
        bool inBatch = true;
        stack.Post(s =>
        {
            inBatch = s.InReceiveBatch;
            transport.Events.Add("request");
        });
        stack.Poll();

        Assert.False(inBatch);
        Assert.Equal(["data 1", "request"], transport.Events);
    }

    [Fact]
    public void Outside_a_batch_the_end_cannot_be_asked_for()
    {
        (NetworkStack stack, _, BatchTransport transport) = Setup();
        Assert.False(stack.InReceiveBatch);
        Assert.False(stack.RequestReceiveBatchEnd());
        stack.Poll(); // nothing received: the transport is not told of a batch end it did not ask for
        Assert.Empty(transport.Events);
    }

    [Fact]
    public void A_request_that_adds_an_interface_in_the_middle_of_a_batch_leaves_the_poll_intact()
    {
        (NetworkStack stack, TestDevice device, BatchTransport transport) = Setup();
        var second = new TestDevice("second", DeviceMedium.Ip, default);
        second.Inject(Packets.Ip(Remote, Ipv4Address.Create(10, 0, 1, 2), Experimental, [9]));
        device.Inject(Packets.Ip(Remote, Local, Experimental, [1]));
        device.Inject(Packets.Ip(Remote, Local, Experimental, [2]));
        transport.OnData = (s, n) =>
        {
            if (n == 1)
            {
                s.PostBetweenFrames(st => st.AddInterface(second, new InterfaceConfiguration { Addresses = [new InterfaceAddress(Ipv4Address.Create(10, 0, 1, 2), 24)] }));
            }
        };
        stack.Poll();

        Assert.Equal(2, stack.Interfaces.Count);
        Assert.Equal(["data 1", "data 2", "data 9"], transport.Events); // the new interface is drained in the same poll
    }

    private static (NetworkStack Stack, TestDevice Device, BatchTransport Transport) Setup()
    {
        var stack = new NetworkStack(new NetworkStackOptions { TimeProvider = new ManualClock(), Seed = 1 });
        var device = new TestDevice("dev", DeviceMedium.Ip, default);
        stack.AddInterface(device, new InterfaceConfiguration { Addresses = [new InterfaceAddress(Local, 24)] });
        var transport = new BatchTransport();
        stack.RegisterTransport(transport);
        return (stack, device, transport);
    }

    /// <summary>Records datagrams (by their one payload byte), batch ends and the test's requests, in order.</summary>
    private sealed class BatchTransport : IIpTransport
    {
        private int _count;

        public IpProtocol Protocol => Experimental;

        public List<string> Events { get; } = [];

        public Action<NetworkStack, int>? OnData { get; set; }

        public void OnDatagram(NetworkStack stack, in IpDatagram datagram)
        {
            Events.Add($"data {datagram.Payload[0]}");
            OnData?.Invoke(stack, ++_count);
        }

        public void OnIcmpError(NetworkStack stack, in IcmpErrorInfo error)
        {
        }

        public void OnReceiveBatchEnd(NetworkStack stack) => Events.Add("end");
    }
}
