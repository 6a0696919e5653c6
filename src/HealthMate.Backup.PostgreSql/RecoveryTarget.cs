using System.Globalization;

namespace HealthMate.Backup.PostgreSql;

/// <summary>Where a point-in-time restore stops replaying WAL (PostgreSQL's <c>recovery_target_*</c> settings).</summary>
public sealed record RecoveryTarget
{
    private RecoveryTarget(string kind, string? value)
    {
        Kind = kind;
        Value = value;
    }

    /// <summary>Gets the target's kind: <c>latest</c>, <c>immediate</c>, <c>time</c>, <c>lsn</c>, <c>xid</c> or <c>name</c>.</summary>
    public string Kind { get; }

    /// <summary>Gets the target's value as PostgreSQL takes it; null for <c>latest</c> and <c>immediate</c>.</summary>
    public string? Value { get; }

    /// <summary>Gets whether the target itself is included (stop just after it) or not (just before). Defaults to true.</summary>
    public bool Inclusive { get; init; } = true;

    /// <summary>Gets the time, for a time target.</summary>
    public DateTimeOffset? Time { get; private init; }

    /// <summary>Replays all the WAL there is.</summary>
    public static RecoveryTarget Latest { get; } = new("latest", null);

    /// <summary>Stops as soon as the base backup is consistent: the state at the end of the backup.</summary>
    public static RecoveryTarget Immediate { get; } = new("immediate", null);

    /// <summary>Stops at a commit time (the server's clock).</summary>
    /// <param name="time">The time.</param>
    /// <returns>The target.</returns>
    public static RecoveryTarget AtTime(DateTimeOffset time) => new("time", time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss.ffffffzzz", CultureInfo.InvariantCulture)) { Time = time };

    /// <summary>Stops at a WAL position.</summary>
    /// <param name="lsn">An LSN such as <c>0/3000148</c>.</param>
    /// <returns>The target.</returns>
    public static RecoveryTarget AtLsn(string lsn) => Lsn.TryParse(lsn, out _) ? new("lsn", lsn.ToUpperInvariant()) : throw new ArgumentException($"'{lsn}' is not an LSN (such as 0/3000148).", nameof(lsn));

    /// <summary>Stops at a transaction.</summary>
    /// <param name="xid">The transaction id.</param>
    /// <returns>The target.</returns>
    public static RecoveryTarget AtTransaction(ulong xid) => new("xid", xid.ToString(CultureInfo.InvariantCulture));

    /// <summary>Stops at a restore point made with <c>pg_create_restore_point(name)</c>.</summary>
    /// <param name="name">The restore point's name.</param>
    /// <returns>The target.</returns>
    public static RecoveryTarget AtRestorePoint(string name) => !string.IsNullOrEmpty(name) && name.Length < 64 && !name.Contains('\0', StringComparison.Ordinal)
        ? new("name", name)
        : throw new ArgumentException("A restore point name has 1 to 63 characters.", nameof(name));

    /// <summary>The settings lines for postgresql.auto.conf.</summary>
    internal IEnumerable<string> Settings()
    {
        switch (Kind)
        {
            case "latest":
                yield break;
            case "immediate":
                yield return "recovery_target = 'immediate'";
                yield break;
            default:
                yield return $"recovery_target_{Kind} = {PostgreSqlConf.Quote(Value!)}";
                yield return $"recovery_target_inclusive = {(Inclusive ? "on" : "off")}";
                yield break;
        }
    }

    /// <inheritdoc />
    public override string ToString() => Value is null ? Kind : $"{Kind} {Value}{(Inclusive ? string.Empty : " (exclusive)")}";
}

/// <summary>A WAL position (log sequence number), comparable.</summary>
internal readonly record struct Lsn(ulong Value) : IComparable<Lsn>
{
    internal static bool TryParse(string? text, out Lsn lsn)
    {
        lsn = default;
        var parts = text?.Split('/');
        if (parts is not { Length: 2 }
            || !uint.TryParse(parts[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var high)
            || !uint.TryParse(parts[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var low))
        {
            return false;
        }

        lsn = new Lsn(((ulong)high << 32) | low);
        return true;
    }

    public int CompareTo(Lsn other) => Value.CompareTo(other.Value);

    public static bool operator <(Lsn left, Lsn right) => left.Value < right.Value;

    public static bool operator >(Lsn left, Lsn right) => left.Value > right.Value;

    public static bool operator <=(Lsn left, Lsn right) => left.Value <= right.Value;

    public static bool operator >=(Lsn left, Lsn right) => left.Value >= right.Value;

    public override string ToString() => $"{Value >> 32:X}/{Value & 0xFFFFFFFF:X}";
}

/// <summary>postgresql.conf syntax.</summary>
internal static class PostgreSqlConf
{
    /// <summary>A string value: single quotes, with quotes and backslashes doubled.</summary>
    internal static string Quote(string value) => "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "''", StringComparison.Ordinal) + "'";
}
