using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Tcp.Tests.Engine;

public class CongestionControllerRegistryTests
{
    [Fact]
    public void The_default_registry_knows_bbr_cubic_and_newreno_case_insensitively()
    {
        var registry = CongestionControllerRegistry.Default;

        Assert.Equal(["bbr", "cubic", "newreno"], registry.Names);
        Assert.IsType<BbrController>(registry.Create("Bbr"));
        Assert.Equal("cubic", CongestionRules.DefaultName);
        Assert.IsType<CubicController>(registry.Create("CUBIC"));
        Assert.IsType<NewRenoController>(registry.Create("newreno"));
        Assert.IsType<NewRenoController>(registry.Create("NewReno"));
        Assert.True(registry.TryCreate("NEWRENO", out ICongestionController? controller));
        Assert.Equal("newreno", controller.Name);
    }

    [Fact]
    public void Each_connection_gets_its_own_controller()
    {
        var registry = CongestionControllerRegistry.Default;
        ICongestionController a = registry.Create("newreno");
        ICongestionController b = registry.Create("newreno");

        Assert.NotSame(a, b);
        a.OnConnectionEstablished(1000, 0);
        a.OnRetransmissionTimeout(20_000, false, 1);
        Assert.Equal(1000, a.CongestionWindow);
        Assert.Equal(5360, b.CongestionWindow);
    }

    [Fact]
    public void Unknown_names_fail_with_the_known_ones_listed()
    {
        var registry = CongestionControllerRegistry.Default;

        Assert.False(registry.TryCreate("vegas", out ICongestionController? controller));
        Assert.Null(controller);
        var error = Assert.Throws<ArgumentException>(() => registry.Create("vegas"));
        Assert.Contains("'vegas'", error.Message, StringComparison.Ordinal);
        Assert.Contains("bbr, cubic, newreno", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void With_returns_a_new_registry_and_leaves_the_old_one_alone()
    {
        var iw4 = new NewRenoOptions { InitialWindow = InitialWindowRule.Rfc5681 };
        var registry = CongestionControllerRegistry.Default
            .With("reno-iw4", () => new NewRenoController(iw4))
            .With("NewReno", () => new NewRenoController(iw4));

        Assert.Equal(["bbr", "cubic", "newreno", "reno-iw4"], registry.Names);
        Assert.Equal(["bbr", "cubic", "newreno"], CongestionControllerRegistry.Default.Names);

        ICongestionController replaced = registry.Create("newreno");
        replaced.OnConnectionEstablished(1460, 0);
        Assert.Equal(4380, replaced.CongestionWindow);

        ICongestionController original = CongestionControllerRegistry.Default.Create("newreno");
        original.OnConnectionEstablished(1460, 0);
        Assert.Equal(14600, original.CongestionWindow);

        Assert.Throws<ArgumentException>(() => registry.With(" ", () => new NewRenoController()));
        Assert.Throws<ArgumentNullException>(() => registry.With("x", null!));
    }
}
