using Protocols.Fuzz.Targets;
using Protocols.Wire;

namespace Protocols.Fuzz.Tests;

/// <summary>The harness itself: the minimizer, the input reader, and checks that do fail when they should.</summary>
public class HarnessTests
{
    [Fact]
    public void Minimizer_shrinks_to_the_bytes_that_fail()
    {
        static void Target(ReadOnlySpan<byte> input) => Check.True(input.IndexOf((ReadOnlySpan<byte>)[0xab, 0xcd]) < 0, "found ab cd");
        byte[] input = new byte[200];
        new Random(7).NextBytes(input);
        input.AsSpan().Replace((byte)0xab, (byte)0);
        input[120] = 0xab;
        input[121] = 0xcd;

        string? failure = Minimizer.Failure(Target, input);
        Assert.NotNull(failure);
        Assert.Equal([0xab, 0xcd], Minimizer.Minimize(Target, input, failure));
        Assert.Null(Minimizer.Failure(Target, [0xab, 0x00]));
    }

    [Fact]
    public void Minimizer_keeps_the_kind_of_failure()
    {
        // Either byte fails, differently: shrinking must not trade the first failure for the second.
        static void Target(ReadOnlySpan<byte> input)
        {
            if (input.Contains((byte)1))
            {
                throw new InvalidOperationException("one");
            }

            Check.True(!input.Contains((byte)2), "two");
        }

        byte[] input = [5, 2, 5, 1, 5];
        string failure = Minimizer.Failure(Target, input)!;
        Assert.Contains("InvalidOperationException", failure);
        Assert.Equal([1], Minimizer.Minimize(Target, input, failure));
    }

    [Fact]
    public void Input_reads_big_endian_and_zero_past_the_end()
    {
        var input = new FuzzInput([0x12, 0x34, 0x56]);
        Assert.Equal(0x1234, input.UInt16());
        Assert.Equal(0x5600u, input.UInt16());
        Assert.True(input.IsEmpty);
        Assert.Equal(0u, input.UInt32());
    }

    [Theory]
    [InlineData("error-less read disagrees")]
    [InlineData("lax read refuses what the strict one accepts")]
    [InlineData("message not a prefix of the input")]
    [InlineData("payload does not end the message")]
    public void Reader_checks_fail_when_a_reader_breaks_its_contract(string broken)
    {
        byte[] bytes = new byte[24];
        byte[] other = new byte[24];
        ReadOnlySpan<byte> message = broken == "message not a prefix of the input" ? other : bytes;
        ReadOnlySpan<byte> payload = broken == "payload does not end the message" ? bytes.AsSpan(20, 2) : bytes.AsSpan(20);
        var accepted = new ReadOutcome(true, default, message, 20, 24, false, message[..20], default, payload);
        var refused = new ReadOutcome(false, WireError.TooShort("T", "F", 30, 24, LengthSource.Buffer), default, 0, 0, false, default, default, default);
        var lax = broken == "lax read refuses what the strict one accepts" ? refused : accepted;
        bool okWithoutError = broken != "error-less read disagrees";

        Exception? thrown = null;
        try
        {
            ReaderChecks.Agree("T", 20, bytes, okWithoutError, accepted, lax);
        }
        catch (FuzzPropertyException e)
        {
            thrown = e;
        }

        Assert.NotNull(thrown);

        // And the same outcome without the fault passes.
        var good = new ReadOutcome(true, default, bytes, 20, 24, false, bytes.AsSpan(0, 20), default, bytes.AsSpan(20));
        ReaderChecks.Agree("T", 20, bytes, okWithoutError: true, good, good);
    }

    [Fact]
    public void Every_target_has_a_unique_name()
    {
        Assert.Equal(FuzzTargets.All.Count, FuzzTargets.All.Select(t => t.Name).Distinct().Count());
        Assert.All(FuzzTargets.All, t => Assert.Same(t.Run, FuzzTargets.Find(t.Name)));
    }

    [Fact]
    public void Stack_seeds_reach_the_echo_servers()
    {
        string corpus = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "fuzz", "corpus", "stack");
        StackTarget.Run(File.ReadAllBytes(Path.Combine(corpus, "synthetic-echo-close")));
        Assert.Equal(1, StackTarget.LastRun.SynAcks);
        Assert.Equal(64, StackTarget.LastRun.TcpPayloadBytes);

        StackTarget.Run(File.ReadAllBytes(Path.Combine(corpus, "synthetic-udp")));
        Assert.Equal(1, StackTarget.LastRun.UdpDatagrams);
        Assert.Equal(1, StackTarget.LastRun.IcmpMessages); // port unreachable for the closed port
    }
}
