using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace HealthMate.Backup.Pipeline;

/// <summary>
/// Runs a CPU-bound transform over a sequence on up to N threads at once and yields the results in input order.
/// At most <c>parallelism</c> transforms run and at most <c>parallelism</c> finished results wait to be consumed,
/// so memory is bounded whatever the sequence's length.
/// </summary>
internal static class OrderedParallel
{
    internal static async IAsyncEnumerable<TOut> SelectAsync<TIn, TOut>(
        IAsyncEnumerable<TIn> source,
        Func<TIn, TOut> transform,
        int parallelism,
        PipelineStage stage,
        Action<TOut> release,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (parallelism <= 1)
        {
            await foreach (var item in source.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                yield return Run(transform, item, stage);
            }

            yield break;
        }

        var results = Channel.CreateBounded<Task<TOut>>(new BoundedChannelOptions(parallelism) { SingleReader = true, SingleWriter = true });
        using var slots = new SemaphoreSlim(parallelism, parallelism);
        using var producerCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = ProduceAsync(source, transform, results.Writer, slots, stage, producerCancellation.Token);
        try
        {
            await foreach (var task in results.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return await task.ConfigureAwait(false);
            }

            await producer.ConfigureAwait(false);
        }
        finally
        {
            await producerCancellation.CancelAsync().ConfigureAwait(false);
            await DrainAsync(producer, results.Reader, release).ConfigureAwait(false);
        }
    }

    private static async Task ProduceAsync<TIn, TOut>(
        IAsyncEnumerable<TIn> source,
        Func<TIn, TOut> transform,
        ChannelWriter<Task<TOut>> results,
        SemaphoreSlim slots,
        PipelineStage stage,
        CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var item in source.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                var task = Task.Run(
                    () =>
                    {
                        try
                        {
                            return Run(transform, item, stage);
                        }
                        finally
                        {
                            slots.Release();
                        }
                    },
                    CancellationToken.None);
                await results.WriteAsync(task, cancellationToken).ConfigureAwait(false);
            }

            results.TryComplete();
        }
        catch (Exception ex)
        {
            // Boundary: whatever ended the upstream sequence is handed to the consumer through the channel.
            results.TryComplete(ex);
        }
    }

    private static TOut Run<TIn, TOut>(Func<TIn, TOut> transform, TIn item, PipelineStage stage)
    {
        try
        {
            return transform(item);
        }
        catch (Exception ex) when (ex is not StageFailure and not OperationCanceledException)
        {
            throw new StageFailure(stage, ex);
        }
    }

    /// <summary>After an early exit, waits for work in flight and returns its buffers to the pool.</summary>
    private static async Task DrainAsync<TOut>(Task producer, ChannelReader<Task<TOut>> results, Action<TOut> release)
    {
        try
        {
            await producer.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Boundary: the consumer already has (or is reporting) the error that stopped the run.
        }

        while (results.TryRead(out var task))
        {
            try
            {
                release(await task.ConfigureAwait(false));
            }
            catch (Exception)
            {
                // Boundary: results of abandoned work are discarded; the run's own error is reported elsewhere.
            }
        }
    }
}
