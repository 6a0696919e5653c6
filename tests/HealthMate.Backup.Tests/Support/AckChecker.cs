using System.Collections.Concurrent;
using Npgsql;

namespace HealthMate.Backup.Tests.Support;

/// <summary>
/// The Jepsen-style acknowledged-writes checker for a <see cref="PostgresCluster"/>. A writer inserts ids 1, 2, 3, ...
/// into <c>acked</c>, one transaction each, through the application's connection string (the client links), and logs
/// each id the client was told had committed, with the time and the server; a failed attempt is retried with the same
/// id. A sampler asks, every 100 ms, each server through its client link whether a new client can write there
/// (<c>BEGIN READ WRITE; INSERT INTO probe_writes ...; COMMIT</c>), and keeps how many could: more than one in a round
/// is a split brain. At the end <see cref="LostAsync"/> lists the acknowledged ids missing on the surviving primary.
/// </summary>
/// <remarks>
/// <para>A server in recovery cannot take a write (<c>BEGIN READ WRITE</c> fails), so whatever the sampler counts is a
/// primary.</para>
/// <para>A synchronous commit that no standby acknowledges is bounded by the client's command timeout, not by
/// <c>statement_timeout</c>: PostgreSQL stops the statement timer before it commits (<c>finish_xact_command</c>), so the
/// wait for a standby outlasts any <c>statement_timeout</c>. The sampler's probe has a 1 s command timeout, after which
/// Npgsql sends a cancel request; PostgreSQL then ends the wait, keeps the commit (locally) and warns "canceling wait
/// for synchronous replication", and Npgsql reports a success. The sampler counts such a server as not accepting
/// (<see cref="WriteRound.CommittedLocally"/>); the writer, whose command timeout is the connection string's, logs such
/// an acknowledgement as it is, a success to the application, flagged <see cref="Acknowledgement.Unreplicated"/>.
/// Cancelling, rather than dropping the connection, also keeps waiting backends from piling up on a stalled primary.</para>
/// </remarks>
internal sealed class AckChecker : IAsyncDisposable
{
    private const string SyncCancelWarning = "canceling wait for synchronous replication";
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(50);

    private readonly PostgresCluster _cluster;
    private readonly string _connectionString;
    private readonly Dictionary<ClusterNode, string> _probes;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<Acknowledgement> _acknowledged = new();
    private readonly ConcurrentQueue<long> _committedWithoutAcknowledgement = new();
    private readonly ConcurrentQueue<WriteRound> _rounds = new();
    private readonly ConcurrentQueue<DateTimeOffset> _splitBrainAt = new();
    private Task _writing = Task.CompletedTask;
    private Task _sampling = Task.CompletedTask;
    private int _failures;
    private int _maxAccepting;
    private string? _lastFailure;
    private int _stopped;

    private AckChecker(PostgresCluster cluster, string connectionString, TimeProvider time)
    {
        _cluster = cluster;
        _connectionString = connectionString;
        _time = time;
        _probes = PostgresCluster.Nodes.ToDictionary(n => n, n =>
            new NpgsqlConnectionStringBuilder(cluster.ClientConnectionString([n], TargetSessionAttributes.Any, timeoutSeconds: 1, commandTimeoutSeconds: 1))
            {
                // After the 1 s command timeout, wait 1 s more for the cancelled statement's answer (a silenced server
                // never answers: the connection is then broken).
                CancellationTimeout = 1000,
                ApplicationName = "partition-sampler",
            }.ConnectionString);
    }

    /// <summary>Gets every acknowledged write so far, in order.</summary>
    internal IReadOnlyList<Acknowledgement> Acknowledged => [.. _acknowledged];

    /// <summary>Gets the ids whose retry found them already there: an earlier attempt committed, but its
    /// acknowledgement was lost. Not acknowledged, so never counted as lost.</summary>
    internal IReadOnlyList<long> CommittedWithoutAcknowledgement => [.. _committedWithoutAcknowledgement];

    /// <summary>Gets how many write attempts failed.</summary>
    internal int Failures => Volatile.Read(ref _failures);

    /// <summary>Gets the last failed attempt's error, for messages.</summary>
    internal string? LastFailure => Volatile.Read(ref _lastFailure);

    /// <summary>Gets every sampler round so far, in order.</summary>
    internal IReadOnlyList<WriteRound> Rounds => [.. _rounds];

    /// <summary>Gets the most servers that accepted a write in one round.</summary>
    internal int MaxAccepting => Volatile.Read(ref _maxAccepting);

    /// <summary>Gets when a round saw two servers or more accept a write: a split brain.</summary>
    internal IReadOnlyList<DateTimeOffset> SplitBrainAt => [.. _splitBrainAt];

    /// <summary>
    /// Creates <c>acked</c> and <c>probe_writes</c> on the primary (directly), waits until both standbys have them,
    /// and starts the writer and the sampler.
    /// </summary>
    /// <param name="cluster">The cluster; its <see cref="ClusterNode.Primary"/> must be the primary.</param>
    /// <param name="clientConnectionString">The application's connection string (<see cref="PostgresCluster.ClientConnectionString(TargetSessionAttributes, string, int, int)"/>).</param>
    /// <param name="samplePeriod">How often the sampler starts a round (a round that takes longer delays the next).</param>
    /// <param name="time">The clock for the logged times; the system clock when null.</param>
    /// <returns>The running checker; stop or dispose it.</returns>
    internal static async Task<AckChecker> StartAsync(PostgresCluster cluster, string clientConnectionString, TimeSpan? samplePeriod = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentException.ThrowIfNullOrWhiteSpace(clientConnectionString);
        await cluster.ExecuteAsync(
            ClusterNode.Primary,
            "CREATE TABLE IF NOT EXISTS acked (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp()); " +
            "CREATE TABLE IF NOT EXISTS probe_writes (node text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())");
        foreach (var standby in new[] { ClusterNode.Standby1, ClusterNode.Standby2 })
        {
            await PostgresPair.WaitAsync(
                () => cluster.ScalarAsync<bool>(standby, "SELECT to_regclass('acked') IS NOT NULL AND to_regclass('probe_writes') IS NOT NULL"),
                $"the checker's tables to replicate to {standby}");
        }

        var checker = new AckChecker(cluster, clientConnectionString, time ?? TimeProvider.System);
        checker._writing = Task.Run(checker.WriteAsync);
        checker._sampling = Task.Run(() => checker.SampleAsync(samplePeriod ?? TimeSpan.FromMilliseconds(100)));
        return checker;
    }

    /// <summary>Waits until at least <paramref name="count"/> writes in all were acknowledged, and returns that many-th.</summary>
    internal Task<Acknowledgement> WaitForAcknowledgedAsync(int count, TimeSpan within) =>
        PollAsync(() => _acknowledged.Count >= count ? _acknowledged.ElementAt(count - 1) : null, within, $"{count} acknowledged writes");

    /// <summary>Waits for the first write acknowledged by a server from now on, and returns it.</summary>
    internal Task<Acknowledgement> FirstAcknowledgedOnAsync(ClusterNode node, TimeSpan within)
    {
        var after = _time.GetUtcNow();
        return PollAsync(() => _acknowledged.FirstOrDefault(a => a.Node == node && a.At >= after), within, $"a write acknowledged by {node}");
    }

    /// <summary>Waits for a sampler round that starts from now on and satisfies <paramref name="condition"/>.</summary>
    internal Task<WriteRound> WaitForRoundAsync(Func<WriteRound, bool> condition, TimeSpan within, string what)
    {
        var after = _time.GetUtcNow();
        return PollAsync(() => _rounds.FirstOrDefault(r => r.At >= after && condition(r)), within, what);
    }

    /// <summary>Stops the writer and the sampler (an attempt in flight ends unacknowledged).</summary>
    internal async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await _stop.CancelAsync();
        }

        await Task.WhenAll(_writing, _sampling);
    }

    /// <summary>The acknowledged ids that are not on the surviving primary (read directly, without links), in order.
    /// Call it after <see cref="StopAsync"/> for the final answer.</summary>
    internal async Task<IReadOnlyList<long>> LostAsync(ClusterNode survivor)
    {
        var present = new HashSet<long>();
        await using (var connection = _cluster.Direct(survivor).OpenConnection("postgres"))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT id FROM acked", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                present.Add(reader.GetInt64(0));
            }
        }

        return [.. _acknowledged.Select(a => a.Id).Where(id => !present.Contains(id)).Order()];
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task WriteAsync()
    {
        long id = 1;
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(_connectionString);
                var unreplicated = false;
                connection.Notice += (_, e) => unreplicated |= e.Notice.MessageText.Contains(SyncCancelWarning, StringComparison.Ordinal);
                await connection.OpenAsync(token);
                var node = _cluster.NodeOfClientPort(connection.Port)
                    ?? throw new InvalidOperationException($"The writer's connection is on port {connection.Port}, no client link's: use PostgresCluster.ClientConnectionString.");
                while (true)
                {
                    unreplicated = false;
                    await using var command = new NpgsqlCommand("INSERT INTO acked (id) VALUES ($1)", connection) { Parameters = { new() { Value = id } } };
                    await command.ExecuteNonQueryAsync(token);
                    _acknowledged.Enqueue(new Acknowledgement(id, _time.GetUtcNow(), node, unreplicated));
                    id++;
                    await Task.Delay(TimeSpan.FromMilliseconds(5), _time, token);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException)
            {
                if (e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
                {
                    // An earlier attempt of this id committed, but its acknowledgement was lost.
                    _committedWithoutAcknowledgement.Enqueue(id);
                    id++;
                }

                Interlocked.Increment(ref _failures);
                Volatile.Write(ref _lastFailure, $"{e.GetType().Name}: {e.Message}");
            }

            try
            {
                await Task.Delay(RetryPause, _time, token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task SampleAsync(TimeSpan period)
    {
        using var timer = new PeriodicTimer(period, _time);
        try
        {
            do
            {
                var at = _time.GetUtcNow();
                var outcomes = await Task.WhenAll(PostgresCluster.Nodes.Select(async n => (Node: n, Outcome: await ProbeAsync(n))));
                var round = new WriteRound(
                    at,
                    [.. outcomes.Where(o => o.Outcome == ProbeOutcome.Accepted).Select(o => o.Node)],
                    [.. outcomes.Where(o => o.Outcome == ProbeOutcome.CommittedLocally).Select(o => o.Node)]);
                _rounds.Enqueue(round);
                if (round.Accepted.Count > Volatile.Read(ref _maxAccepting))
                {
                    Volatile.Write(ref _maxAccepting, round.Accepted.Count); // only this loop writes it
                }

                if (round.Accepted.Count >= 2)
                {
                    _splitBrainAt.Enqueue(at);
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Whether a new client can write on a server now, through its client link.</summary>
    private async Task<ProbeOutcome> ProbeAsync(ClusterNode node)
    {
        try
        {
            await using var connection = new NpgsqlConnection(_probes[node]);
            var unreplicated = false;
            connection.Notice += (_, e) => unreplicated |= e.Notice.MessageText.Contains(SyncCancelWarning, StringComparison.Ordinal);
            await connection.OpenAsync(_stop.Token);
            var name = PostgresCluster.ApplicationName(node);
            await using var command = new NpgsqlCommand($"BEGIN READ WRITE; INSERT INTO probe_writes (node) VALUES ('{name}'); COMMIT", connection);
            await command.ExecuteNonQueryAsync(_stop.Token);
            return unreplicated ? ProbeOutcome.CommittedLocally : ProbeOutcome.Accepted;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException || (e is OperationCanceledException && !_stop.IsCancellationRequested))
        {
            return ProbeOutcome.Refused; // in recovery, unreachable, silent, or too slow: no write here
        }
    }

    private async Task<T> PollAsync<T>(Func<T?> probe, TimeSpan within, string what)
        where T : class
    {
        var started = _time.GetTimestamp();
        while (true)
        {
            if (probe() is { } found)
            {
                return found;
            }

            if (_time.GetElapsedTime(started) > within)
            {
                throw new TimeoutException($"No {what} within {within.TotalSeconds:0.#} s ({Failures} failed writes, last: {LastFailure ?? "none"}; last round accepted by [{string.Join(", ", _rounds.LastOrDefault()?.Accepted ?? [])}]).");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), _time);
        }
    }

    private enum ProbeOutcome
    {
        Refused,
        Accepted,
        CommittedLocally,
    }
}
