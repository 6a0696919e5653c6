using System.Globalization;
using System.Text;

namespace HealthMate.Backup.PostgreSql;

/// <summary>libpq keyword/value connection strings (<c>primary_conninfo</c>): parse, change the host, write back.</summary>
internal static class ConnInfo
{
    /// <summary>Splits <c>key=value key='quoted \' value'</c> into pairs, in order.</summary>
    internal static List<KeyValuePair<string, string>> Parse(string conninfo)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        var i = 0;
        while (true)
        {
            while (i < conninfo.Length && char.IsWhiteSpace(conninfo[i]))
            {
                i++;
            }

            if (i >= conninfo.Length)
            {
                return pairs;
            }

            var keyStart = i;
            while (i < conninfo.Length && conninfo[i] != '=' && !char.IsWhiteSpace(conninfo[i]))
            {
                i++;
            }

            var key = conninfo[keyStart..i];
            while (i < conninfo.Length && char.IsWhiteSpace(conninfo[i]))
            {
                i++;
            }

            if (key.Length == 0 || i >= conninfo.Length || conninfo[i] != '=')
            {
                throw new FormatException($"primary_conninfo is not a keyword=value list (near keyword '{key}').");
            }

            i++;
            while (i < conninfo.Length && char.IsWhiteSpace(conninfo[i]))
            {
                i++;
            }

            var value = new StringBuilder();
            if (i < conninfo.Length && conninfo[i] == '\'')
            {
                i++;
                while (true)
                {
                    if (i >= conninfo.Length)
                    {
                        throw new FormatException($"primary_conninfo has an unterminated quoted value for '{key}'.");
                    }

                    var c = conninfo[i++];
                    if (c == '\'')
                    {
                        break;
                    }

                    if (c == '\\' && i < conninfo.Length)
                    {
                        c = conninfo[i++];
                    }

                    value.Append(c);
                }
            }
            else
            {
                while (i < conninfo.Length && !char.IsWhiteSpace(conninfo[i]))
                {
                    var c = conninfo[i++];
                    if (c == '\\' && i < conninfo.Length)
                    {
                        c = conninfo[i++];
                    }

                    value.Append(c);
                }
            }

            pairs.Add(new(key, value.ToString()));
        }
    }

    /// <summary>Writes pairs back, every value quoted.</summary>
    internal static string Format(IEnumerable<KeyValuePair<string, string>> pairs) =>
        string.Join(' ', pairs.Select(p => $"{p.Key}='{p.Value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal)}'"));

    /// <summary>The same connection with another host and port (any <c>hostaddr</c> dropped).</summary>
    internal static string WithHost(string conninfo, string host, int port)
    {
        var pairs = Parse(conninfo).Where(p => p.Key is not ("host" or "hostaddr" or "port")).ToList();
        pairs.Add(new("host", host));
        pairs.Add(new("port", port.ToString(CultureInfo.InvariantCulture)));
        return Format(pairs);
    }

    /// <summary>A SQL escape-string literal (<c>E'...'</c>), right whatever <c>standard_conforming_strings</c> says.</summary>
    internal static string SqlLiteral(string value) => "E'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
}
