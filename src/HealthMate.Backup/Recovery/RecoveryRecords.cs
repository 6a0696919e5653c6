using HealthMate.Backup.Catalog;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Health;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Playbooks;

namespace HealthMate.Backup.Recovery;

/// <summary>Measured recoveries, playbook run reports and the audit trail, kept in the backup storage so every host
/// (and a recovery host that has only the bucket and the key) sees them.</summary>
public interface IRecoveryRecords
{
    /// <summary>Stores a recovery's measurements.</summary>
    /// <param name="record">The record.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when stored.</returns>
    Task AddAsync(RecoveryRecord record, CancellationToken cancellationToken = default);

    /// <summary>Lists recoveries recorded at or after <paramref name="since"/>, oldest first.</summary>
    /// <param name="since">The earliest.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The records.</returns>
    IAsyncEnumerable<RecoveryRecord> ListAsync(DateTimeOffset since, CancellationToken cancellationToken = default);

    /// <summary>Compares the achieved RTO and RPO of the recoveries since <paramref name="since"/> with their objectives.</summary>
    /// <param name="since">The period's start.</param>
    /// <param name="cancellationToken">Cancels the report.</param>
    /// <returns>The report.</returns>
    Task<RecoveryComplianceReport> GetComplianceReportAsync(DateTimeOffset since, CancellationToken cancellationToken = default);

    /// <summary>Appends an audit entry.</summary>
    /// <param name="record">The entry.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when stored.</returns>
    Task AuditAsync(AuditRecord record, CancellationToken cancellationToken = default);

    /// <summary>Lists audit entries at or after <paramref name="since"/>, oldest first.</summary>
    /// <param name="since">The earliest.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The entries.</returns>
    IAsyncEnumerable<AuditRecord> ListAuditAsync(DateTimeOffset since, CancellationToken cancellationToken = default);

    /// <summary>Lists playbook run reports at or after <paramref name="since"/>, oldest first.</summary>
    /// <param name="since">The earliest.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The reports.</returns>
    IAsyncEnumerable<PlaybookRunReport> ListRunsAsync(DateTimeOffset since, CancellationToken cancellationToken = default);

    /// <summary>Resolves a tier's objectives (<c>BackupDR:Objectives:Tiers</c>).</summary>
    /// <param name="tier">The tier, or <see langword="null"/>.</param>
    /// <returns>The objective, or <see langword="null"/> when there is no such tier.</returns>
    RecoveryObjective? Objective(string? tier);
}

/// <summary>The records in storage: <c>dr/recoveries/</c>, <c>dr/runs/</c> and <c>audit/</c>.</summary>
internal sealed class RecoveryRecords : IRecoveryRecords
{
    private const string RecoveriesFolder = "dr/recoveries/";
    private const string RunsFolder = "dr/runs/";
    private const string AuditFolder = "audit/";

    private readonly BackupEnvironment _environment;
    private readonly SealedRecords<RecoveryRecord> _recoveries;
    private readonly SealedRecords<AuditRecord> _audit;
    private readonly SealedRecords<PlaybookRunReport> _runs;

    public RecoveryRecords(BackupEnvironment environment)
    {
        _environment = environment;
        _recoveries = new(environment, new EnvelopeKind("healthmate-backup-recovery", "recovery", KeyDerivation.DrRecordMacKeyInfo), RecoveryJsonContext.Default.RecoveryRecord);
        _audit = new(environment, new EnvelopeKind("healthmate-backup-audit", "entry", KeyDerivation.DrRecordMacKeyInfo), RecoveryJsonContext.Default.AuditRecord);
        _runs = new(environment, new EnvelopeKind("healthmate-backup-playbook-run", "run", KeyDerivation.DrRecordMacKeyInfo), RecoveryJsonContext.Default.PlaybookRunReport);
    }

    public Task AddAsync(RecoveryRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        BackupId.Validate(record.Id, nameof(record));
        return _recoveries.AddAsync($"{RecoveriesFolder}{record.Id}.json", record, cancellationToken);
    }

    public IAsyncEnumerable<RecoveryRecord> ListAsync(DateTimeOffset since, CancellationToken cancellationToken = default) => _recoveries.ListAsync(RecoveriesFolder, since, cancellationToken);

    public async Task<RecoveryComplianceReport> GetComplianceReportAsync(DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        var records = await ListAsync(since, cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
        var entries = records.GroupBy(r => (r.Kind, r.Name)).Select(g =>
        {
            var rtos = g.Where(r => r.Rto is not null).Select(r => r.Rto!.Value).Order().ToList();
            var latest = g.Last();
            return new RecoveryCompliance
            {
                Kind = g.Key.Kind,
                Name = g.Key.Name,
                Tier = latest.Tier,
                Count = g.Count(),
                Drills = g.Count(r => r.IsDrill),
                CompliantCount = g.Count(r => r.Compliant),
                MedianRto = rtos.Count == 0 ? null : rtos[rtos.Count / 2],
                MaxRto = rtos.Count == 0 ? null : rtos[^1],
                MaxRpo = g.Max(r => r.Rpo),
                RtoObjective = latest.RtoObjective,
                RpoObjective = latest.RpoObjective,
                Latest = latest,
            };
        }).OrderBy(e => e.Kind).ThenBy(e => e.Name, StringComparer.Ordinal).ToList();
        return new RecoveryComplianceReport(_environment.TimeProvider.GetUtcNow(), since, entries);
    }

    public Task AuditAsync(AuditRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        BackupId.Validate(record.Id, nameof(record));
        return _audit.AddAsync($"{AuditFolder}{record.Id}.json", record, cancellationToken);
    }

    public IAsyncEnumerable<AuditRecord> ListAuditAsync(DateTimeOffset since, CancellationToken cancellationToken = default) => _audit.ListAsync(AuditFolder, since, cancellationToken);

    public IAsyncEnumerable<PlaybookRunReport> ListRunsAsync(DateTimeOffset since, CancellationToken cancellationToken = default) => _runs.ListAsync(RunsFolder, since, cancellationToken);

    internal Task AddRunAsync(PlaybookRunReport report, CancellationToken cancellationToken) => _runs.AddAsync($"{RunsFolder}{report.RunId}.json", report, cancellationToken);

    public RecoveryObjective? Objective(string? tier) =>
        tier is not null && _environment.Options.Objectives.Tiers.TryGetValue(tier, out var objective) ? objective : null;

    /// <summary>A new time-sortable id.</summary>
    internal string NewId() => BackupId.New(_environment.TimeProvider);
}
