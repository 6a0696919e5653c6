using System.Diagnostics;

namespace HealthMate.Backup.Health;

/// <summary>Runs one probe with a deadline: the monitor, the readiness score and the playbook steps all ask this way.</summary>
internal static class ProbeRunner
{
    /// <summary>
    /// Runs <paramref name="probe"/> under a linked cancellation source its <paramref name="timeout"/> cancels. Whatever a
    /// probe throws becomes an unhealthy answer (after its deadline: "no answer within"); one that ignores its token and
    /// answers late is unhealthy too. Cancelling <paramref name="cancellationToken"/> cancels the run.
    /// </summary>
    internal static async Task<ProbeResult> RunAsync(IHealthProbe probe, TimeSpan timeout, TimeProvider time, Action<Exception>? threw, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        ProbeResult result;
        using (var deadline = new CancellationTokenSource(timeout, time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token))
        {
            try
            {
                result = await probe.ProbeAsync(linked.Token).ConfigureAwait(false);
            }
            catch (Exception) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // Whatever a cancelled probe throws (a driver wraps the cancellation in its own exception), it missed its deadline.
                result = new ProbeResult(ProbeStatus.Unhealthy, $"no answer within {timeout.TotalSeconds:0.###} s", clock.Elapsed, new Dictionary<string, object>());
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                threw?.Invoke(ex);
                result = new ProbeResult(ProbeStatus.Unhealthy, $"probe failed: {ex.GetType().Name}", clock.Elapsed, new Dictionary<string, object>(), ex);
            }
        }

        // A probe that answers after its deadline (it ignored cancellation) still missed it.
        if (clock.Elapsed > timeout && result.Status != ProbeStatus.Unhealthy)
        {
            result = result with { Status = ProbeStatus.Unhealthy, Description = $"answered after {clock.Elapsed.TotalSeconds:0.###} s, over the {timeout.TotalSeconds:0.###} s timeout: {result.Description}" };
        }

        return result;
    }
}
