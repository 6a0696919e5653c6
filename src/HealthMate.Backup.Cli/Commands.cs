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

    /// <summary>
    /// wal-fetch's exit status for every failure but "not archived". PostgreSQL takes any status from 1 to 125 as "this
    /// file is not in the archive" and ends recovery there, calling it complete; above 125 it stops recovery with FATAL.
    /// A WAL file that is archived but cannot be fetched (damaged, another key, storage down) must stop recovery.
    /// </summary>
    internal const int FetchFailed = 255;

    /// <summary>How often wal-fetch tries a transient storage failure, and the first wait (doubling) between tries.</summary>
    private const int FetchAttempts = 4;
    private static readonly TimeSpan FetchRetryDelay = TimeSpan.FromMilliseconds(500);

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
        exit codes: 0 done, 1 not in the archive (wal-fetch only), 2 usage, 3 failed (PostgreSQL retries a failed push);
          wal-fetch exits 255 on every other failure (usage, configuration, a damaged or unreadable segment, storage
          still failing after 4 tries): above 125, so PostgreSQL stops recovery instead of taking it as the archive's end
        """;

    internal static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var positional = new List<string>();
        string? config = null, systemId = null, actor = null, unknown = null;
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
                        unknown ??= args[i];
                    }
                    else
                    {
                        positional.Add(args[i]);
                    }

                    break;
            }
        }

        var command = positional.Count > 0 ? positional[0] : null;
        var failed = command == "wal-fetch" ? FetchFailed : Failure;
        var arguments = command switch { "wal-push" => 2, "wal-fetch" => 3, "readiness" => 1, "drill" => 2, _ => -1 };
        if (unknown is not null || arguments != positional.Count)
        {
            await error.WriteLineAsync(unknown is null ? UsageText : $"unknown option '{unknown}'\n{UsageText}").ConfigureAwait(false);
            return command == "wal-fetch" ? FetchFailed : Usage;
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

                if (!await FetchAsync(archive, positional[1], positional[2], options, error, cancellationToken).ConfigureAwait(false))
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
            await error.WriteLineAsync($"healthmate-backup {command} failed: {(command == "wal-fetch" ? positional[1] + ": " : string.Empty)}{Describe(ex)}").ConfigureAwait(false);
            return failed;
        }
    }

    /// <summary>Fetches, trying a transient storage failure again with doubling waits; "not archived" is only ever an
    /// answer the archive gave, never a failure to ask it.</summary>
    private static async Task<bool> FetchAsync(WalArchive archive, string name, string destination, WalArchiveOptions options, TextWriter error, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await archive.FetchAsync(name, destination, options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt < FetchAttempts && IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                var delay = FetchRetryDelay * Math.Pow(2, attempt - 1);
                await error.WriteLineAsync($"healthmate-backup wal-fetch {name}: try {attempt} of {FetchAttempts} failed ({Describe(ex)}); trying again in {delay.TotalSeconds:0.#} s").ConfigureAwait(false);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Whether trying again may help: a storage error marked transient, a network error or a timeout anywhere in the chain.</summary>
    private static bool IsTransient(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is HealthMate.Backup.Storage.StorageException { IsTransient: true } or HttpRequestException or TimeoutException or System.Net.Sockets.SocketException)
            {
                return true;
            }
        }

        return false;
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
