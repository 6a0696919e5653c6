using HealthMate.Backup.Recovery;
using HealthMate.Backup.Tests.PostgreSql;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.DR;

/// <summary>The <c>healthmate-backup readiness</c> and <c>drill</c> commands, run as the real CLI.</summary>
public sealed class CliDrillTests : IDisposable
{
    private readonly TestHost _host = new(keepRoot: false);
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-cli-dr-").FullName;

    public void Dispose()
    {
        _host.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private string Config()
    {
        var keyFile = Path.Combine(_work, "backup.key");
        File.WriteAllText(keyFile, Convert.ToBase64String(_host.Key));
        var config = Path.Combine(_work, "config.json");
        File.WriteAllText(config, $$"""
            { "BackupDR": {
                "Encryption": { "ActiveKeyId": "test-key", "Keys": [ { "Id": "test-key", "File": "{{keyFile}}" } ] },
                "Storage": { "Local": { "Path": "{{_host.Root}}", "FlushToDisk": false } },
                "Playbooks": { "restart-app": { "Rto": "00:30:00", "Steps": [
                  { "Name": "restart", "Type": "Hook", "Hook": { "Command": { "FileName": "/bin/sh", "Arguments": [ "-c", "echo restarted; test \"$HM_DRILL\" = 1" ] } } } ] } } } }
            """);
        return config;
    }

    [Fact]
    public async Task Drill_runs_a_configured_playbook_prints_its_report_and_leaves_the_records_and_readiness_says_what_is_missing()
    {
        var config = Config();

        var (code, output, error) = await WalArchiveTests.RunCliAsync("drill", "restart-app", "--config", config, "--actor", "ci-drill");
        Assert.True(code == 0, output + error);
        Assert.Contains("restart-app (Drill) run ", output, StringComparison.Ordinal);
        Assert.Matches(@"restart\s+Succeeded\s+[\d.]+ s\s+/bin/sh exited 0\. restarted", output);
        Assert.Contains("Succeeded in ", output, StringComparison.Ordinal);
        Assert.Contains("objectives RTO 30 min", output, StringComparison.Ordinal);
        Assert.Contains("achieved RTO", output, StringComparison.Ordinal);

        var (dryCode, dry, _) = await WalArchiveTests.RunCliAsync("drill", "restart-app", "--dry-run", "--config", config);
        Assert.Equal(0, dryCode);
        Assert.Contains("WouldRun", dry, StringComparison.Ordinal);

        var (unknownCode, unknown, _) = await WalArchiveTests.RunCliAsync("drill", "no-such-playbook", "--config", config);
        Assert.Equal(2, unknownCode);
        Assert.Contains("known: application-failure, database-failure, region-outage, restart-app", unknown, StringComparison.Ordinal);

        var records = _host.Services.GetRequiredService<IRecoveryRecords>();
        var since = DateTimeOffset.UtcNow.AddMinutes(-5);
        Assert.Contains(await records.ListAuditAsync(since).ToListAsync(), a => a.Actor == "ci-drill" && a.Action == "playbook.drill" && a.Outcome == "Succeeded");
        var drill = Assert.Single(await records.ListAsync(since).ToListAsync());
        Assert.True(drill.IsDrill && drill.Compliant);

        var (readyCode, readiness, _) = await WalArchiveTests.RunCliAsync("readiness", "--config", config);
        Assert.Equal(3, readyCode);
        Assert.Contains("NOT ready", readiness, StringComparison.Ordinal);
        Assert.Contains("backups", readiness, StringComparison.Ordinal);
        Assert.Contains("no backups", readiness, StringComparison.Ordinal);
        Assert.Contains("restart-app", readiness, StringComparison.Ordinal); // the drill counts
    }
}
