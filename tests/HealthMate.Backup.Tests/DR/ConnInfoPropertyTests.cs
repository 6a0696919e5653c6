using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HealthMate.Backup.PostgreSql;

namespace HealthMate.Backup.Tests.DR;

/// <summary>primary_conninfo is rewritten when a standby is pointed at a new primary: nothing but host and port may change.</summary>
public sealed class ConnInfoPropertyTests
{
    private static readonly string[] Keys = ["user", "password", "passfile", "sslmode", "application_name", "channel_binding", "options", "target_session_attrs"];

    private static Arbitrary<List<KeyValuePair<string, string>>> Pairs() =>
        Gen.Elements(Keys)
            .SelectMany(key => Gen.Elements("a", "b", " ", "'", "\\", "=", "x y", "p@ss'w\\rd", "-c search_path=x").ListOf().Select(parts => new KeyValuePair<string, string>(key, string.Concat(parts))))
            .ListOf()
            .Select(list => list.GroupBy(p => p.Key).Select(g => g.First()).ToList())
            .ToArbitrary();

    [Property(MaxTest = 300)]
    public Property Formatting_then_parsing_gives_back_every_pair() =>
        Prop.ForAll(Pairs(), pairs => ConnInfo.Parse(ConnInfo.Format(pairs)).SequenceEqual(pairs));

    [Property(MaxTest = 300)]
    public Property Repointing_changes_only_host_and_port() =>
        Prop.ForAll(Pairs(), pairs =>
        {
            var original = ConnInfo.Format(pairs.Append(new("host", "old-primary")).Append(new("hostaddr", "10.0.0.1")).Append(new("port", "5432")));
            var moved = ConnInfo.Parse(ConnInfo.WithHost(original, "new-primary", 6543));
            return moved.Where(p => p.Key is not ("host" or "port")).SequenceEqual(pairs)
                && moved.Single(p => p.Key == "host").Value == "new-primary"
                && moved.Single(p => p.Key == "port").Value == "6543"
                && moved.All(p => p.Key != "hostaddr");
        });

    [Fact]
    public void Parses_what_pg_basebackup_writes_and_refuses_garbage()
    {
        var written = "user=postgres passfile='/var/lib/postgresql/.pgpass' channel_binding=prefer host=127.0.0.1 port=5432 sslmode=prefer sslcompression=0 target_session_attrs=any";
        var pairs = ConnInfo.Parse(written);
        Assert.Equal(["user", "passfile", "channel_binding", "host", "port", "sslmode", "sslcompression", "target_session_attrs"], pairs.Select(p => p.Key));
        Assert.Equal("/var/lib/postgresql/.pgpass", pairs[1].Value);
        Assert.Throws<FormatException>(() => ConnInfo.Parse("host"));
        Assert.Throws<FormatException>(() => ConnInfo.Parse("password='unterminated"));
        Assert.Equal("E'it\\'s \\\\ here'", ConnInfo.SqlLiteral("it's \\ here"));
    }
}
