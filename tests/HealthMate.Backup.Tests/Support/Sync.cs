namespace HealthMate.Backup.Tests.Support;

/// <summary>
/// Runs async work to completion from a synchronous FsCheck property. The work runs on the thread pool, away from
/// xunit's synchronization context, which has one thread per core: blocking those threads while continuations are
/// posted to them deadlocks.
/// </summary>
internal static class Sync
{
    internal static T Run<T>(Func<Task<T>> work) => Task.Run(work).GetAwaiter().GetResult();
}
