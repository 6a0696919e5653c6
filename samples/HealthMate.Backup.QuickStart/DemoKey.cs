using System.Security.Cryptography;

namespace HealthMate.Backup.QuickStart;

/// <summary>A demo key kept in a file outside the backup folder, created on first run (owner-only permissions).</summary>
internal static class DemoKey
{
    internal static string LoadOrCreate(string path)
    {
        if (File.Exists(path))
        {
            return File.ReadAllText(path).Trim();
        }

        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var writer = new StreamWriter(path, options);
        writer.WriteLine(key);
        return key;
    }
}
