// The targets keep static scratch buffers (no allocation per input under afl), so they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
