// The interop tests share two CPU cores with the rest of CI and time real kernel round trips:
// one at a time keeps them independent of each other's load.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
