using System.IO.Enumeration;

namespace HealthMate.Backup.FileTree;

/// <summary>
/// Glob filters over '/'-separated relative paths, matched per segment with the BCL's <see cref="FileSystemName"/>
/// (<c>*</c> and <c>?</c>). A pattern without '/' matches a file or folder name at any depth (<c>*.tmp</c>,
/// <c>__pycache__</c>, <c>.git</c>, like .gitignore); a pattern with '/' matches the whole relative path, where a
/// <c>**</c> segment matches any number of segments (<c>**/cache/**</c>, <c>logs/*.log</c>).
/// </summary>
internal sealed class PathFilter
{
    private readonly string[][] _anywhere;
    private readonly string[][] _anchored;

    internal PathFilter(IEnumerable<string> patterns)
    {
        var list = patterns.Select(p => p.Trim().Trim('/')).Where(p => p.Length > 0).ToList();
        _anywhere = list.Where(p => !p.Contains('/', StringComparison.Ordinal)).Select(p => new[] { p }).ToArray();
        _anchored = list.Where(p => p.Contains('/', StringComparison.Ordinal)).Select(p => p.Split('/')).ToArray();
    }

    internal bool IsEmpty => _anywhere.Length == 0 && _anchored.Length == 0;

    /// <summary>Returns whether a relative path (or any folder above it) matches.</summary>
    internal bool Matches(string relativePath)
    {
        var segments = relativePath.Split('/');
        foreach (var pattern in _anywhere)
        {
            if (segments.Any(segment => FileSystemName.MatchesSimpleExpression(pattern[0], segment, ignoreCase: false)))
            {
                return true;
            }
        }

        foreach (var pattern in _anchored)
        {
            // A folder that matches excludes everything below it, so try every prefix of the path.
            for (var length = 1; length <= segments.Length; length++)
            {
                if (Match(pattern, 0, segments, 0, length))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool Match(string[] pattern, int p, string[] path, int s, int end)
    {
        if (p == pattern.Length)
        {
            return s == end;
        }

        if (pattern[p] == "**")
        {
            for (var skip = s; skip <= end; skip++)
            {
                if (Match(pattern, p + 1, path, skip, end))
                {
                    return true;
                }
            }

            return false;
        }

        return s < end && FileSystemName.MatchesSimpleExpression(pattern[p], path[s], ignoreCase: false) && Match(pattern, p + 1, path, s + 1, end);
    }
}
