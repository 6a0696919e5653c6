using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <summary>One-statement helpers over an open connection.</summary>
internal static class Sql
{
    /// <summary>Runs a query and returns its first column of its first row, with at most one positional parameter (<c>$1</c>).</summary>
    internal static async Task<T> ScalarAsync<T>(this NpgsqlConnection connection, string sql, CancellationToken cancellationToken, string? parameter = null)
    {
        var command = new NpgsqlCommand(sql, connection);
        await using (command.ConfigureAwait(false))
        {
            if (parameter is not null)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = parameter });
            }

            return (T)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
    }

    /// <summary>Runs statements that return nothing.</summary>
    internal static async Task ExecuteAsync(this NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, connection);
        await using (command.ConfigureAwait(false))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
