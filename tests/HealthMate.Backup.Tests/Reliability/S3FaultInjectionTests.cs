using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.S3;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// The fault-injection suite's S3 part (issue 13): a fault-injecting HTTP proxy on 127.0.0.1 between the AWS SDK and
/// the real Ceph RGW drops responses after RGW acted on the request, answers 500, 503 and SlowDown, and resets
/// connections mid-upload, on manifest PUTs, data PUTs, multipart parts and completes, GETs, HEADs and DELETEs. Every WAL
/// push acknowledged to "PostgreSQL" (which retries until acknowledged) must fetch whole afterwards; every backup
/// reported committed must be listed and restore byte for byte; nothing listed may fail to restore.
/// </summary>
[Collection(RgwCollection.Name)]
public sealed class S3FaultInjectionTests(RgwFixture rgw, ITestOutputHelper output) : IAsyncLifetime
{
    private const string SystemId = "7500000000000000001";
    private const int MiB = 1024 * 1024;
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-s3-faults-").FullName;
    private string _bucket = null!;
    private FaultProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        _bucket = await rgw.CreateBucketAsync();
        _proxy = await FaultProxy.StartAsync(new Uri(rgw.Endpoint));
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task WalPushesAndBackups_UnderLostResponsesErrorsAndResets_LoseNothingAcknowledged_AndNeverFalselySucceed()
    {
        var options = rgw.Options(_bucket);
        options.ServiceUrl = _proxy.Endpoint.ToString();
        options.MaxRetries = 0; // errors reach the library, not only the SDK's own retries
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        using var host = RgwFixture.Host(options, key: key, more: s => s.AddBackupDR().AddPostgreSql());
        var archive = host.Services.GetRequiredService<WalArchive>();
        AddFaults();

        // WAL: PostgreSQL calls archive_command until it is acknowledged, then recycles the segment.
        var acked = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var failedPushes = 0;
        for (var i = 0; i < 40; i++)
        {
            var size = i % 8 == 7 ? 11 * MiB : 256 * 1024; // every 8th is a multipart upload
            var (name, content) = await SegmentAsync(0x40 + i, size);
            failedPushes += await PushUntilAcknowledgedAsync(archive, name);
            acked[name] = content;
        }

        // Two pushers of one segment at once (a primary and a standby with archive_mode = always), under the same faults.
        for (var i = 0; i < 6; i++)
        {
            var (name, content) = await SegmentAsync(0x80 + i, 256 * 1024);
            var pushers = await Task.WhenAll(PushUntilAcknowledgedAsync(archive, name), PushUntilAcknowledgedAsync(archive, name));
            failedPushes += pushers.Sum();
            acked[name] = content;
        }

        // Backups: each reported committed or failed; nothing else.
        var committed = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var attempted = new Dictionary<string, byte[]>(StringComparer.Ordinal); // by plaintext SHA-256
        var failedBackups = 0;
        for (var i = 0; i < 16; i++)
        {
            var payload = Payloads.Create(i % 4 == 3 ? 12 * MiB : 300 * 1024, seed: 900 + i, style: i % 3);
            attempted[Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(payload))] = payload;
            try
            {
                committed[(await host.BackupBytesAsync(payload, writeChunk: 256 * 1024)).BackupId] = payload;
            }
            catch (BackupException)
            {
                failedBackups++;
            }
        }

        var injected = _proxy.TotalInjected;

        // The SDK resends a request whose response was lost (MaxStaleConnectionRetries, whatever MaxRetries says): RGW
        // then answers 412 to the conditional PUT of the very manifest it stored, which the library settles by reading
        // it back. Those 412s must have happened, or this test did not exercise that path.
        var resentAndRefused = _proxy.Log.Count(e => e.Method == "PUT" && e.Path.EndsWith(".json", StringComparison.Ordinal) && e.UpstreamStatus == 412);
        var byKind = string.Join(", ", Enum.GetValues<FaultKind>().Select(k => $"{k} {_proxy.Injected(k)}"));
        _proxy.ClearRules();

        // The checker reads RGW directly, not through the proxy.
        using var direct = RgwFixture.Host(rgw.Options(_bucket), key: key, more: s => s.AddBackupDR().AddPostgreSql());
        var lostWal = 0;
        foreach (var (name, content) in acked)
        {
            var fetched = Path.Combine(_work, "fetched");
            var found = await direct.Services.GetRequiredService<WalArchive>().FetchAsync(name, fetched, new WalArchiveOptions { SystemIdentifier = SystemId });
            var bytes = found ? await File.ReadAllBytesAsync(fetched) : [];
            lostWal += found && content.SequenceEqual(bytes) ? 0 : 1;
        }

        var entries = await direct.Catalog.ListEntriesAsync().ToListAsync();
        var falseSuccesses = committed.Keys.Count(id => !entries.Any(e => e.BackupId == id && e.IsValid));
        foreach (var entry in entries)
        {
            // Listed means restorable, whatever the run reported (a commit it could not settle may have landed).
            Assert.True(entry.IsValid, $"{entry.ManifestKey}: {entry.Problem}");
            Assert.Equal(attempted[entry.Manifest!.Data.PlaintextSha256], await direct.RestoreBytesAsync(entry.BackupId));
        }

        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(direct.Services);
        var summary = $"{injected} faults injected ({byKind}) over {_proxy.Log.Count} requests ({resentAndRefused} manifest PUTs stored, resent by the SDK and refused with 412, settled by reading back); acknowledged: {acked.Count} WAL segments ({failedPushes} pushes failed and were retried), {committed.Count} backups ({failedBackups} reported failed, {entries.Count - committed.Count} of those committed after all); lost {lostWal}; false successes {falseSuccesses}";
        output.WriteLine(summary);
        FaultCounts.Write("s3", summary);
        Assert.Equal(0, lostWal);
        Assert.Equal(0, falseSuccesses);
        Assert.True(injected >= 50, summary);
        Assert.True(resentAndRefused > 0, $"no manifest PUT was resent and refused with 412; {summary}");
    }

    /// <summary>Faults on every kind of request, each on a share of its matches.</summary>
    private void AddFaults()
    {
        static bool IsManifest(ProxyRequest r) => r.Path.EndsWith(".json", StringComparison.Ordinal);
        static Func<ProxyRequest, bool> Every(int n, Func<ProxyRequest, bool> match)
        {
            var seen = 0;
            return r => match(r) && Interlocked.Increment(ref seen) % n == 0;
        }

        _proxy.AddRule(new FaultRule { Kind = FaultKind.DropResponse, Times = int.MaxValue, Match = Every(3, r => r.Method == "PUT" && IsManifest(r)) });
        _proxy.AddRule(new FaultRule { Kind = FaultKind.ErrorStatus, Status = 503, ErrorCode = "SlowDown", Times = int.MaxValue, Match = Every(4, r => r.Method == "PUT" && IsManifest(r)) });
        _proxy.AddRule(new FaultRule { Kind = FaultKind.ErrorStatus, Status = 500, Times = int.MaxValue, Match = Every(5, r => r.Method == "PUT" && IsManifest(r)) });
        _proxy.AddRule(new FaultRule { Kind = FaultKind.ResetMidBody, AfterBodyBytes = 100, Times = int.MaxValue, Match = Every(7, r => r.Method == "PUT" && IsManifest(r)) });
        _proxy.AddRule(new FaultRule { Kind = FaultKind.ResetMidBody, AfterBodyBytes = 64 * 1024, Times = int.MaxValue, Match = Every(4, r => r.Method == "PUT" && !IsManifest(r) && !r.HasQueryParameter("partNumber")) });
        _proxy.AddRule(new FaultRule { Kind = FaultKind.DropResponse, Times = int.MaxValue, Match = Every(5, r => r.Method == "PUT" && !IsManifest(r) && !r.HasQueryParameter("partNumber")) });
        _proxy.AddRule(new FaultRule { Kind = FaultKind.ResetMidBody, AfterBodyBytes = MiB, Times = int.MaxValue, Match = Every(3, r => r.Method == "PUT" && r.HasQueryParameter("partNumber")) });
        _proxy.AddRule(new FaultRule { Kind = FaultKind.DropResponse, Times = int.MaxValue, Match = Every(2, r => r.Method == "POST" && r.HasQueryParameter("uploadId")) });
        _proxy.AddRule(new FaultRule { Kind = FaultKind.ErrorStatus, Status = 500, Times = int.MaxValue, Match = Every(6, r => r.Method == "GET") });
        _proxy.AddRule(new FaultRule { Kind = FaultKind.DropResponse, Times = int.MaxValue, Match = Every(9, r => r.Method == "GET") });
        _proxy.AddRule(new FaultRule { Kind = FaultKind.ErrorStatus, Status = 503, Times = int.MaxValue, Match = Every(4, r => r.Method == "HEAD") });
        _proxy.AddRule(new FaultRule { Kind = FaultKind.ErrorStatus, Status = 503, ErrorCode = "SlowDown", Times = int.MaxValue, Match = Every(2, r => r.Method == "DELETE") });
    }

    private async Task<int> PushUntilAcknowledgedAsync(WalArchive archive, string name)
    {
        for (var failures = 0; ; failures++)
        {
            try
            {
                await archive.PushAsync(Path.Combine(_work, name), new WalArchiveOptions { SystemIdentifier = SystemId });
                return failures;
            }
            catch (BackupException) when (failures < 25)
            {
                // PostgreSQL retries a failed archive_command; the segment stays in pg_wal meanwhile.
            }
        }
    }

    private async Task<(string Name, byte[] Content)> SegmentAsync(int number, int size)
    {
        var name = $"0000000100000000000000{number:X2}";
        var content = Payloads.Create(size, seed: number, style: 0);
        await File.WriteAllBytesAsync(Path.Combine(_work, name), content);
        return (name, content);
    }
}
