namespace HealthMate.Backup.PostgreSql;

/// <summary>The server could not be reached or refused the login; the message names the server, never the password.</summary>
public sealed class PostgreSqlConnectionException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="PostgreSqlConnectionException"/> class.</summary>
    /// <param name="message">What failed and where.</param>
    /// <param name="innerException">Npgsql's error.</param>
    public PostgreSqlConnectionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
