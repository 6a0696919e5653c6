namespace HealthMate.Backup.QuickStart;

/// <summary>Command-line settings of the QuickStart.</summary>
internal sealed record QuickStartSettings(string StoragePath, string KeyFile, int SizeMb, string? FolderPath)
{
    internal static QuickStartSettings Parse(string[] args)
    {
        var settings = new QuickStartSettings("backups", ".healthmate-demo.key", 256, null);
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
            settings = args[i] switch
            {
                "--out" => settings with { StoragePath = value },
                "--key-file" => settings with { KeyFile = value },
                "--size-mb" => settings with { SizeMb = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
                "--path" => settings with { FolderPath = Directory.Exists(value) ? value : throw new DirectoryNotFoundException($"No folder '{value}'.") },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'. Options: --out DIR, --key-file FILE, --size-mb N, --path DIR."),
            };
            i++;
        }

        return settings.SizeMb is < 1 or > 1_048_576 ? throw new ArgumentException("--size-mb is from 1 to 1048576.") : settings;
    }
}
