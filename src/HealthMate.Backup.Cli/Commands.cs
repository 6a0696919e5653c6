using HealthMate.Backup.PostgreSql;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Cli;

/// <summary>
/// The <c>healthmate-backup</c> commands. Configuration is the <c>BackupDR</c> section of a JSON file
/// (<c>--config FILE</c>, else <c>$HEALTHMATE_BACKUP_CONFIG</c>, else <c>/etc/healthmate-backup/config.json</c>),
/// overridden by environment variables <c>HEALTHMATE_BACKUP_BackupDR__…</c>; keys come from where it says (a key
/// file, an environment variable), never from the command line.
/// </summary>
internal static class Commands
{
    internal const int Success = 0;
    internal const int NotFound = 1;
    internal const int Usage = 2;
    internal const int Failure = 3;

    private const string UsageText = """
        usage:
          healthmate-backup wal-push PATH [--config FILE] [--system-id ID]
              archive one WAL file (archive_command = 'healthmate-backup wal-push %p --config FILE')
          healthmate-backup wal-fetch NAME DESTINATION [--config FILE] [--system-id ID]
              restore one WAL file (restore_command = 'healthmate-backup wal-fetch %f %p --config FILE')
          healthmate-backup readiness [--config FILE]
              the disaster-recovery readiness score and what lowers it (exit 3 when not ready)
          healthmate-backup drill PLAYBOOK [--dry-run] [--actor NAME] [--config FILE]
              run a playbook as a drill against the real systems (or explain it with --dry-run) and print its report;
              the PostgreSQL failover comes from BackupDR:PostgreSql:Failover (Primary, Standbys)
        exit codes: 0 done, 1 not in the archive (wal-fetch), 2 usage, 3 failed (PostgreSQL retries a failed push)
        """;

    internal static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var positional = new List<string>();
        string? config = null, systemId = null, actor = null;
        var dryRun = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--config" when i + 1 < args.Length:
                    config = args[++i];
                    break;
                case "--system-id" when i + 1 < args.Length:
                    systemId = args[++i];
                    break;
                case "--actor" when i + 1 < args.Length:
                    actor = args[++i];
                    break;
                case "--dry-run":
                    dryRun = true;
                    break;
                case "-h" or "--help":
                    await output.WriteLineAsync(UsageText).ConfigureAwait(false);
                    return Success;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal))
                    {
                        await error.WriteLineAsync($"unknown option '{args[i]}'\n{UsageText}").ConfigureAwait(false);
                        return Usage;
                    }

                    positional.Add(args[i]);
                    break;
            }
        }

        var command = positional.Count > 0 ? positional[0] : null;
        var arguments = command switch { "wal-push" => 2, "wal-fetch" => 3, "readiness" => 1, "drill" => 2, _ => -1 };
        if (arguments != positional.Count)
        {
            await error.WriteLineAsync(UsageText).ConfigureAwait(false);
            return Usage;
        }

        try
        {
            var services = BuildServices(config);
            await using (services.ConfigureAwait(false))
            {
                if (command == "readiness")
                {
                    return await DisasterRecoveryCommands.ReadinessAsync(services, output, cancellationToken).ConfigureAwait(false);
                }

                if (command == "drill")
                {
                    return await DisasterRecoveryCommands.DrillAsync(services, positional[1], dryRun, actor ?? Environment.UserName, output, cancellationToken).ConfigureAwait(false);
                }

                var archive = services.GetRequiredService<WalArchive>();
                var options = new WalArchiveOptions { SystemIdentifier = systemId };
                if (command == "wal-push")
                {
                    var result = await archive.PushAsync(positional[1], options, cancellationToken).ConfigureAwait(false);
                    await output.WriteLineAsync($"{result.FileName}: {(result.Outcome == WalPushOutcome.Stored ? "archived" : "already archived, same content")} ({result.Bytes} bytes, cluster {result.SystemIdentifier}, timeline {result.Timeline})").ConfigureAwait(false);
                    return Success;
                }

                if (!await archive.FetchAsync(positional[1], positional[2], options, cancellationToken).ConfigureAwait(false))
                {
                    await error.WriteLineAsync($"{positional[1]}: not in the archive").ConfigureAwait(false);
                    return NotFound;
                }

                return Success;
            }
        }
        catch (Exception ex)
        {
            // Boundary: one line per cause for PostgreSQL's log; messages never carry keys or passwords.
            await error.WriteLineAsync($"healthmate-backup {command} failed: {Describe(ex)}").ConfigureAwait(false);
            return Failure;
        }
    }

    private static ServiceProvider BuildServices(string? configPath)
    {
        var path = configPath ?? Environment.GetEnvironmentVariable("HEALTHMATE_BACKUP_CONFIG") ?? "/etc/healthmate-backup/config.json";
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Configuration file '{path}' does not exist (pass --config FILE or set HEALTHMATE_BACKUP_CONFIG).");
        }

        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.GetFullPath(path), optional: false, reloadOnChange: false)
            .AddEnvironmentVariables("HEALTHMATE_BACKUP_")
            .Build();
        var services = new ServiceCollection();
        var builder = services.AddBackupDR(configuration.GetSection("BackupDR")).AddPostgreSql();
        var failover = configuration.GetSection("BackupDR:PostgreSql:Failover");
        if (failover.Exists())
        {
            builder.AddPostgreSqlFailover(failover.Bind);
        }

        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }

    private static string Describe(Exception ex)
    {
        var parts = new List<string>();
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (parts.Count == 0 || !parts[^1].Contains(e.Message, StringComparison.Ordinal))
            {
                parts.Add(e.Message);
            }
        }

        return string.Join(" <- ", parts);
    }
}
