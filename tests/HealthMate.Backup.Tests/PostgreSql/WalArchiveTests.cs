using System.Diagnostics;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.PostgreSql;

/// <summary>wal-push and wal-fetch, on real segments of the test cluster: identical pushes succeed, different content
/// under an archived name is refused, and a push that died before it was acknowledged is invisible.</summary>
[Collection(PostgresCollection.Name)]
public sealed class WalArchiveTests(PostgresFixture postgres) : IDisposable
{
    private readonly TestHost _host = new(services: s => s.AddBackupDR().AddPostgreSql());
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-wal-").FullName;

    public void Dispose()
    {
        _host.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private WalArchive Archive => _host.Services.GetRequiredService<WalArchive>();

    [Fact]
    public async Task Segment_RoundTrips_UnderItsClusterAndTimeline_AndAnIdenticalPushIsANoOp()
    {
        var (segment, systemId) = await CopyCurrentSegmentAsync();

        var first = await Archive.PushAsync(segment);
        var again = await Archive.PushAsync(segment);

        Assert.Equal(WalPushOutcome.Stored, first.Outcome);
        Assert.Equal(systemId, first.SystemIdentifier); // read from the segment's own page header
        Assert.Equal(Path.GetFileName(segment)[..8], first.Timeline);
        Assert.Equal(WalPushOutcome.AlreadyArchived, again.Outcome);
        Assert.Contains(Path.GetFileName(segment), await Archive.ListAsync(systemId, first.Timeline).ToListAsync());
        Assert.Contains(_host.AllFiles(), f => f.StartsWith($"wal/{systemId}/{first.Timeline}/", StringComparison.Ordinal));

        var fetched = Path.Combine(_work, "RECOVERYXLOG");
        Assert.True(await Archive.FetchAsync(Path.GetFileName(segment), fetched, new WalArchiveOptions { SystemIdentifier = systemId }));
        Assert.Equal(await File.ReadAllBytesAsync(segment), await File.ReadAllBytesAsync(fetched));
        Assert.False(await Archive.FetchAsync("0000000100000000000000FE", fetched + "2", new WalArchiveOptions { SystemIdentifier = systemId }));
        Assert.False(File.Exists(fetched + "2"));
    }

    [Fact]
    public async Task DifferentContentUnderAnArchivedName_IsRefused_AndTheArchivedFileIsKept()
    {
        var (segment, systemId) = await CopyCurrentSegmentAsync();
        await Archive.PushAsync(segment);
        var original = await File.ReadAllBytesAsync(segment);
        var altered = (byte[])original.Clone();
        altered[^100] ^= 0xFF;
        var impostor = Path.Combine(Directory.CreateDirectory(Path.Combine(_work, "other")).FullName, Path.GetFileName(segment));
        await File.WriteAllBytesAsync(impostor, altered);

        var error = await Assert.ThrowsAsync<WalConflictException>(() => Archive.PushAsync(impostor));

        Assert.Contains(Path.GetFileName(segment), error.Message, StringComparison.Ordinal);
        var fetched = Path.Combine(_work, "fetched");
        await Archive.FetchAsync(Path.GetFileName(segment), fetched, new WalArchiveOptions { SystemIdentifier = systemId });
        Assert.Equal(original, await File.ReadAllBytesAsync(fetched));
    }

    [Fact]
    public async Task PushKilledBeforeItsManifest_IsInvisible_AndTheNextPushStoresIt()
    {
        var (segment, systemId) = await CopyCurrentSegmentAsync();
        var name = Path.GetFileName(segment);
        var timeline = name[..8];
        // What a push killed after its data commit and before its manifest leaves behind: data nobody acknowledged.
        await _host.Storage.PutIfAbsentAsync($"wal/{systemId}/{timeline}/{name}", new byte[] { 1, 2, 3 });
        var options = new WalArchiveOptions { SystemIdentifier = systemId };

        Assert.False(await Archive.FetchAsync(name, Path.Combine(_work, "x"), options));
        Assert.Empty(await Archive.ListAsync(systemId, timeline).ToListAsync());

        Assert.Equal(WalPushOutcome.Stored, (await Archive.PushAsync(segment)).Outcome);
        Assert.True(await Archive.FetchAsync(name, Path.Combine(_work, "y"), options));
        Assert.Equal(await File.ReadAllBytesAsync(segment), await File.ReadAllBytesAsync(Path.Combine(_work, "y")));
    }

    [Fact]
    public async Task HistoryFile_TakesItsClusterFromTheControlFile()
    {
        var data = Environment.GetEnvironmentVariable("HM_PG_DATA") ?? await postgres.ScalarAsync<string>("postgres", "SHOW data_directory");
        var systemId = await postgres.ScalarAsync<string>("postgres", "SELECT system_identifier::text FROM pg_control_system()");
        var history = Path.Combine(_work, "00000002.history");
        await File.WriteAllTextAsync(history, "1\t0/3000000\tno recovery target specified\n");

        var result = await Archive.PushAsync(history, new WalArchiveOptions { DataDirectory = data });

        Assert.Equal(systemId, result.SystemIdentifier);
        Assert.Equal("00000002", result.Timeline);
        Assert.Throws<ArgumentException>(() => Archive.PushAsync(Path.Combine(_work, "not-a-wal-name")).GetAwaiter().GetResult());
    }

    [Fact]
    public async Task Cli_PushesAndFetches_WithPostgreSqlsExitCodes()
    {
        var (segment, systemId) = await CopyCurrentSegmentAsync();
        var config = WriteCliConfig(_host.Root, _host.Key, _work);

        Assert.Equal(0, (await RunCliAsync("wal-push", segment, "--config", config)).ExitCode);
        Assert.Equal(0, (await RunCliAsync("wal-push", segment, "--config", config)).ExitCode);
        var fetched = Path.Combine(_work, "fetched-by-cli");
        Assert.Equal(0, (await RunCliAsync("wal-fetch", Path.GetFileName(segment), fetched, "--config", config, "--system-id", systemId)).ExitCode);
        Assert.Equal(await File.ReadAllBytesAsync(segment), await File.ReadAllBytesAsync(fetched));
        Assert.Equal(1, (await RunCliAsync("wal-fetch", "0000000100000000000000FE", fetched + "2", "--config", config, "--system-id", systemId)).ExitCode);
        Assert.Equal(2, (await RunCliAsync("wal-push")).ExitCode);
        var missing = await RunCliAsync("wal-push", segment, "--config", Path.Combine(_work, "none.json"));
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains("none.json", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CliKilledMidPush_LeavesNothingAFetchWouldReturn_OrTheWholeFile()
    {
        // A 64 MiB file under a segment's name (the CLI is told the cluster), killed at different points of its push:
        // afterwards a fetch returns exactly the file or nothing, never part of it, and a new push always completes.
        var config = WriteCliConfig(_host.Root, _host.Key, _work);
        var content = Payloads.Create(64 * 1024 * 1024, seed: 3, style: 2);
        var systemId = "7000000000000000001";
        var options = new WalArchiveOptions { SystemIdentifier = systemId };
        foreach (var delay in new[] { 150, 300, 450, 600, 900 })
        {
            var name = $"0000000100000000000000{delay / 10:X2}";
            var file = Path.Combine(_work, name);
            await File.WriteAllBytesAsync(file, content);
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "healthmate-backup.dll"), "wal-push", file, "--config", config, "--system-id", systemId })
            {
                start.ArgumentList.Add(argument);
            }

            using (var process = Process.Start(start)!)
            {
                await Task.Delay(delay);
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            // Whole or nothing (a store the kill left empty is not even taken for an archive).
            var fetched = Path.Combine(_work, name + ".fetched");
            var found = await Record.ExceptionAsync(() => Archive.FetchAsync(name, fetched, options)) switch
            {
                null => File.Exists(fetched),
                WalArchiveUnavailableException => false,
                var other => throw other,
            };
            if (found)
            {
                Assert.Equal(content, await File.ReadAllBytesAsync(fetched));
            }

            // Stored (the killed push was never acknowledged) or already archived (it finished first); never a conflict.
            await Archive.PushAsync(file, options);
            Assert.True(await Archive.FetchAsync(name, fetched, options));
            Assert.Equal(content, await File.ReadAllBytesAsync(fetched));
        }
    }

    /// <summary>A config for the CLI: the test's storage and key (in a key file beside it, readable by the server's user).</summary>
    internal static string WriteCliConfig(string storageRoot, byte[] key, string folder)
    {
        var keyFile = Path.Combine(folder, "backup.key");
        File.WriteAllText(keyFile, Convert.ToBase64String(key));
        var config = Path.Combine(folder, "config.json");
        File.WriteAllText(config, $$"""
            { "BackupDR": {
                "Encryption": { "ActiveKeyId": "test-key", "Keys": [ { "Id": "test-key", "File": "{{keyFile}}" } ] },
                "Storage": { "Local": { "Path": "{{storageRoot}}", "FlushToDisk": false } } } }
            """);
        return config;
    }

    internal static async Task<(int ExitCode, string Output, string Error)> RunCliAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "healthmate-backup.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error);
    }

    /// <summary>Copies the cluster's current WAL segment (a real one, with its page headers) out of pg_wal.</summary>
    private async Task<(string Path, string SystemId)> CopyCurrentSegmentAsync()
    {
        var name = await postgres.ScalarAsync<string>("postgres", "SELECT pg_walfile_name(pg_current_wal_lsn())");
        var data = await postgres.ScalarAsync<string>("postgres", "SHOW data_directory");
        var systemId = await postgres.ScalarAsync<string>("postgres", "SELECT system_identifier::text FROM pg_control_system()");
        var copy = Path.Combine(_work, name);
        File.Copy(Path.Combine(data, "pg_wal", name), copy, overwrite: true);
        return (copy, systemId);
    }
}
