namespace Protocols.Tcp;

/// <summary>
/// One block of a SACK option (RFC 2018 3): the sequence space [<see cref="LeftEdge"/>,
/// <see cref="RightEdge"/>) the receiver holds beyond the cumulative acknowledgment.
/// </summary>
/// <param name="LeftEdge">The first sequence number of the block.</param>
/// <param name="RightEdge">The sequence number immediately following the last one of the block.</param>
public readonly record struct TcpSackBlock(uint LeftEdge, uint RightEdge)
{
    /// <summary><c>left-right</c>, e.g. <c>1000-2000</c>.</summary>
    public override string ToString() => FormattableString.Invariant($"{LeftEdge}-{RightEdge}");
}

/// <summary>The two values of a Timestamps option (RFC 7323 3.2).</summary>
/// <param name="TsVal">The sender's timestamp clock value (TSval).</param>
/// <param name="TsEcr">The timestamp echo reply (TSecr): the most recent TSval received, valid when ACK is set.</param>
public readonly record struct TcpTimestamps(uint TsVal, uint TsEcr)
{
    /// <summary><c>val=… ecr=…</c>.</summary>
    public override string ToString() => FormattableString.Invariant($"val={TsVal} ecr={TsEcr}");
}
