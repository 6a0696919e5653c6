namespace HealthMate.Backup.Tests.Support;

/// <summary>Reads NIST CAVP .rsp files: sections of <c>[Name = value]</c> headers, then records of <c>Name = value</c> lines.</summary>
internal static class RspFile
{
    internal static IEnumerable<Dictionary<string, string>> Records(string path)
    {
        var section = new Dictionary<string, string>();
        Dictionary<string, string>? record = null;
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.Trim();
            if (line.StartsWith('#'))
            {
                continue;
            }

            if (line.StartsWith('['))
            {
                if (record is not null)
                {
                    yield return record;
                    record = null;
                }

                var parts = line.Trim('[', ']').Split('=', 2, StringSplitOptions.TrimEntries);
                section[parts[0]] = parts.Length > 1 ? parts[1] : string.Empty;
                continue;
            }

            if (line.Length == 0)
            {
                if (record is not null)
                {
                    yield return record;
                    record = null;
                }

                continue;
            }

            record ??= new Dictionary<string, string>(section.Select(kv => KeyValuePair.Create("[" + kv.Key + "]", kv.Value)));
            if (line == "FAIL")
            {
                record["FAIL"] = "true";
                continue;
            }

            var pair = line.Split('=', 2, StringSplitOptions.TrimEntries);
            record[pair[0]] = pair.Length > 1 ? pair[1] : string.Empty;
        }

        if (record is not null)
        {
            yield return record;
        }
    }

    internal static string VectorPath(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Vectors", .. parts]);
}
