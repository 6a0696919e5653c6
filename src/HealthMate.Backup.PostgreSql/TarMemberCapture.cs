using System.Globalization;
using System.Text;

namespace HealthMate.Backup.PostgreSql;

/// <summary>
/// Passes a tar stream through unchanged while reading its headers, and keeps the content of a few small named members
/// (pg_basebackup's <c>backup_label</c> and <c>backup_manifest</c>), so the backup's start and end points come from the
/// backup itself, without a second pass or a temporary file.
/// </summary>
internal sealed class TarMemberCapture(Stream inner, IReadOnlySet<string> names, int maxMemberBytes) : HealthMate.Backup.Pipeline.WriteOnlyStream
{
    private const int BlockSize = 512;
    private readonly byte[] _header = new byte[BlockSize];
    private readonly Dictionary<string, byte[]> _captured = new(StringComparer.Ordinal);
    private int _headerFill;
    private long _remaining; // data bytes (with padding) of the current member still to pass
    private long _dataLength;
    private MemoryStream? _capture;
    private string? _captureName;
    private bool _ended;

    internal IReadOnlyDictionary<string, byte[]> Captured => _captured;

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Observe(buffer);
        inner.Write(buffer);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Observe(buffer.Span);
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    private void Observe(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty && !_ended)
        {
            if (_remaining > 0)
            {
                var take = (int)Math.Min(_remaining, data.Length);
                if (_capture is not null)
                {
                    var useful = (int)Math.Max(0, Math.Min(take, _dataLength - _capture.Length));
                    _capture.Write(data[..useful]);
                }

                _remaining -= take;
                data = data[take..];
                if (_remaining == 0 && _capture is not null)
                {
                    _captured[_captureName!] = _capture.ToArray();
                    _capture = null;
                }

                continue;
            }

            var fill = Math.Min(BlockSize - _headerFill, data.Length);
            data[..fill].CopyTo(_header.AsSpan(_headerFill));
            _headerFill += fill;
            data = data[fill..];
            if (_headerFill == BlockSize)
            {
                _headerFill = 0;
                StartMember();
            }
        }
    }

    private void StartMember()
    {
        if (_header.AsSpan().IndexOfAnyExcept((byte)0) < 0)
        {
            _ended = true; // the end-of-archive blocks
            return;
        }

        var name = Field(0, 100);
        var prefix = Field(345, 155);
        if (prefix.Length > 0)
        {
            name = prefix + "/" + name;
        }

        _dataLength = ParseSize(_header.AsSpan(124, 12));
        _remaining = (_dataLength + BlockSize - 1) / BlockSize * BlockSize;
        var type = (char)_header[156];
        if (type is '0' or '\0' && names.Contains(name.TrimStart('.', '/')) && _dataLength <= maxMemberBytes)
        {
            _captureName = name.TrimStart('.', '/');
            _capture = new MemoryStream((int)_dataLength);
            if (_remaining == 0)
            {
                _captured[_captureName] = [];
                _capture = null;
            }
        }
    }

    private string Field(int offset, int length)
    {
        var field = _header.AsSpan(offset, length);
        var end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }

    private static long ParseSize(ReadOnlySpan<byte> field)
    {
        if ((field[0] & 0x80) != 0)
        {
            // GNU base-256 for sizes over 8 GiB.
            long value = field[0] & 0x7F;
            foreach (var b in field[1..])
            {
                value = (value << 8) | b;
            }

            return value;
        }

        var text = Encoding.ASCII.GetString(field).Trim('\0', ' ');
        return text.Length == 0 ? 0 : Convert.ToInt64(text, 8);
    }
}

/// <summary>What pg_basebackup's <c>backup_label</c> and <c>backup_manifest</c> say about where a backup starts and ends.</summary>
internal static class BaseBackupPoints
{
    internal static (string StartLsn, int Timeline, string? EndLsn, string? StartWalFile) Read(IReadOnlyDictionary<string, byte[]> captured)
    {
        if (!captured.TryGetValue("backup_label", out var labelBytes))
        {
            throw new InvalidOperationException("The base backup has no backup_label: it is not a pg_basebackup archive.");
        }

        string? start = null, startFile = null;
        var timeline = 0;
        foreach (var line in Encoding.UTF8.GetString(labelBytes).Split('\n'))
        {
            if (line.StartsWith("START WAL LOCATION: ", StringComparison.Ordinal))
            {
                // START WAL LOCATION: 0/2000028 (file 000000010000000000000002)
                var parts = line["START WAL LOCATION: ".Length..].Split(' ');
                start = parts[0];
                startFile = parts.Length == 3 && parts[1] == "(file" ? parts[2].TrimEnd(')') : null;
            }
            else if (line.StartsWith("START TIMELINE: ", StringComparison.Ordinal))
            {
                timeline = int.Parse(line["START TIMELINE: ".Length..].Trim(), CultureInfo.InvariantCulture);
            }
        }

        if (start is null || timeline == 0)
        {
            throw new InvalidOperationException("The base backup's backup_label does not give its start location and timeline.");
        }

        string? end = null;
        if (captured.TryGetValue("backup_manifest", out var manifest))
        {
            using var document = System.Text.Json.JsonDocument.Parse(manifest);
            if (document.RootElement.TryGetProperty("WAL-Ranges", out var ranges))
            {
                foreach (var range in ranges.EnumerateArray())
                {
                    end = range.GetProperty("End-LSN").GetString();
                }
            }
        }

        return (start, timeline, end, startFile);
    }
}
