using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;

namespace HealthMate.Backup.Tests.DR;

/// <summary>
/// A client that inserts ids 1, 2, 3, ... one transaction each, and logs each id the server acknowledged (the commit
/// returned) with the time; failed attempts are retried with the same id after a short pause.
/// </summary>
internal sealed class Writer : IAsyncDisposable
{
    private readonly string _connectionString;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private Writer(string connectionString)
    {
        _connectionString = connectionString;
        _loop = Task.Run(LoopAsync);
    }

    internal ConcurrentQueue<(long Id, DateTimeOffset At, string Host)> Acknowledged { get; } = new();

    internal int Failures;

    internal DateTimeOffset? LastFailureAt { get; private set; }

    /// <summary>Creates the table (through the same connection string) and starts writing.</summary>
    internal static async Task<Writer> StartAsync(string connectionString)
    {
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("CREATE TABLE IF NOT EXISTS acked (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())", connection);
            await command.ExecuteNonQueryAsync();
        }

        return new Writer(connectionString);
    }

    /// <summary>Waits until a server (<c>host:port</c>) acknowledges an id, and returns the time of the first.</summary>
    internal async Task<DateTimeOffset> FirstAcknowledgedOnAsync(string server, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within)
        {
            var hit = Acknowledged.Where(a => a.Host == server).Select(a => (DateTimeOffset?)a.At).FirstOrDefault();
            if (hit is { } at)
            {
                return at;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"{server} acknowledged no write within {within.TotalSeconds:0} s ({Failures} failed attempts)");
    }

    internal async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        long id = 1;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(_connectionString);
                await connection.OpenAsync(_stop.Token);
                while (!_stop.IsCancellationRequested)
                {
                    await using var command = new NpgsqlCommand("INSERT INTO acked (id) VALUES ($1)", connection) { Parameters = { new NpgsqlParameter { Value = id } } };
                    await command.ExecuteNonQueryAsync(_stop.Token);
                    Acknowledged.Enqueue((id, DateTimeOffset.UtcNow, $"{connection.Host}:{connection.Port}"));
                    id++;
                    await Task.Delay(5, _stop.Token);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException or OperationCanceledException)
            {
                if (ex is PostgresException { SqlState: "23505" })
                {
                    // The id was committed but its acknowledgement was lost: not counted as acknowledged, move on.
                    id++;
                }

                Interlocked.Increment(ref Failures);
                LastFailureAt = DateTimeOffset.UtcNow;
                try
                {
                    await Task.Delay(50, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
