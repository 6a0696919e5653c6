namespace HealthMate.Backup.Leases;

/// <summary>What reading one stored lease record found: the record, if it checks out, or why it does not.</summary>
/// <param name="Record">The record, authentic (or, without a keyring, well formed) and stored where it belongs.</param>
/// <param name="Problem">Why the record is not one, for logs and <see cref="LeaseLostException"/> messages.</param>
internal readonly record struct LeaseReading(LeaseRecord? Record, string? Problem)
{
    internal static LeaseReading Invalid(string problem) => new(null, problem);
}
