using Protocols.Ip;
using Protocols.Ip.Simulation;

namespace Protocols.Udp.Tests.Sockets;

/// <summary>
/// UdpSocket completions never run application code inline on the loop, and a continuation that
/// did not capture a context (<c>ConfigureAwait(false)</c>) goes to the completing thread's
/// context: in a NetworkSimulator, the harness's. So such code stays on the simulation's thread.
/// </summary>
public class UdpDeterminismTests
{
    [Fact]
    public void ConfigureAwait_false_code_over_UdpSocket_stays_on_the_simulation_thread_and_runs_repeat_exactly()
    {
        static void Scenario(NetworkSimulator sim)
        {
            var net = new UdpSimulation(sim.Seed, new LinkOptions { Delay = TimeSpan.FromMilliseconds(1), Jitter = TimeSpan.FromMilliseconds(2), Loss = 0 }, sim: sim);
            using var server = UdpSocket.Bind(net.B, 7);
            using var clientA = UdpSocket.Bind(net.A, 5001);
            using var clientB = UdpSocket.Bind(net.A, 5002);
            int harness = Environment.CurrentManagedThreadId;
            net.Run(async () =>
            {
                // Two senders race (jitter spreads arrivals) into one receiver; every await is
                // ConfigureAwait(false), as library code would write it.
                async Task Send(UdpSocket socket, byte tag)
                {
                    for (int i = 0; i < 40; i++)
                    {
                        await socket.SendToAsync(new byte[] { tag, (byte)i }, new IpEndpoint(UdpSimulation.AddressB, 7)).ConfigureAwait(false);
                        Assert.Equal(harness, Environment.CurrentManagedThreadId);
                    }
                }

                Task a = Send(clientA, 1);
                Task b = Send(clientB, 2);
                var buffer = new byte[16];
                for (int received = 0; received < 80; received++)
                {
                    UdpReceiveResult r = await server.ReceiveFromAsync(buffer).ConfigureAwait(false);
                    Assert.Equal(harness, Environment.CurrentManagedThreadId);
                    sim.Trace($"{buffer[0]}.{buffer[1]} from {r.RemoteEndpoint} at {sim.Elapsed.Ticks}");
                }

                await Task.WhenAll(a, b).ConfigureAwait(false);
                Assert.Equal(harness, Environment.CurrentManagedThreadId);
            });
        }

        NetworkSimulator.VerifyDeterminism(seed: 71, Scenario, runs: 3);
    }
}
