using Protocols.Tests.Shared;
using Protocols.Tls.Tests.Security;

namespace Protocols.Tls.Tests;

/// <summary><see cref="StackTlsTests"/> over IPv6: TLS and HttpClient (with an IPv6 literal URL) between two stacks on 2001:db8::/64.</summary>
public sealed class StackTlsTestsOverIpv6 : StackTlsTests
{
    public StackTlsTestsOverIpv6() => Family.Ipv6 = true;
}
