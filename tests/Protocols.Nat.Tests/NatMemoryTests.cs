using Protocols.Ip;
using Xunit.Abstractions;

namespace Protocols.Nat.Tests;

/// <summary>What a mapping costs in managed memory: its mapping, session and their table entries.</summary>
public class NatMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public void A_mapping_with_its_session_costs_a_few_hundred_bytes()
    {
        const int count = 50_000;
        var table = new NatTable(new NatOptions { Seed = 1, MaxMappings = count, MaxSessions = count }, 0xcb007101);
        var keep = new NatMapping[count];
        long before = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < count; i++)
        {
            NatMapping m = table.GetOrCreateMapping(IpProtocol.Udp, 0x0a000000u + (uint)(i / 1000), (ushort)(10_000 + (i % 1000)))!;
            Assert.NotNull(table.GetOrCreateSession(m, 0xc6336407, 53, 0));
            keep[i] = m;
        }

        long after = GC.GetTotalMemory(forceFullCollection: true);
        double perMapping = (double)(after - before) / count;
        output.WriteLine($"{perMapping:F0} bytes per mapping with one session ({count} mappings, dictionaries included)");
        Assert.Equal(count, table.MappingCount);
        Assert.InRange(perMapping, 50, 1024);
        GC.KeepAlive(keep);
    }
}
