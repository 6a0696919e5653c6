namespace HealthMate.Backup.PostgreSql;

/// <summary>A PostgreSQL client tool (<c>pg_dump</c>, <c>pg_restore</c>, <c>pg_dumpall</c>) failed; the message carries
/// its exit code and what it printed on standard error (never a password).</summary>
public sealed class PostgreSqlToolException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="PostgreSqlToolException"/> class.</summary>
    /// <param name="tool">The tool's name.</param>
    /// <param name="exitCode">Its exit code.</param>
    /// <param name="standardError">What it printed on standard error, already redacted.</param>
    public PostgreSqlToolException(string tool, int exitCode, string standardError)
        : base($"{tool} failed with exit code {exitCode}: {(string.IsNullOrWhiteSpace(standardError) ? "(it printed nothing)" : standardError.Trim())}")
    {
        Tool = tool;
        ExitCode = exitCode;
        StandardError = standardError;
    }

    /// <summary>Gets the tool's name.</summary>
    public string Tool { get; }

    /// <summary>Gets the tool's exit code.</summary>
    public int ExitCode { get; }

    /// <summary>Gets what the tool printed on standard error (the last 16 KiB at most).</summary>
    public string StandardError { get; }
}
