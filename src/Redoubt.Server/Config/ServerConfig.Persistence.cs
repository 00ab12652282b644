namespace Redoubt.Server.Config;

/// <summary>RDB and AOF directives.</summary>
public sealed partial class ServerConfig
{
    // RDB
    public string DbFilename = "";
    /// <summary>RDB save points: save after Seconds if at least Changes writes happened.</summary>
    public List<(long Seconds, long Changes)> SavePoints = new();
    public bool RdbChecksum, RdbCompression, RdbDelSyncFiles, StopWritesOnBgsaveError, RdbSaveIncrementalFsync;
    /// <summary>Test knobs: microseconds to sleep per key when saving / loading (negative: nanoseconds busy loop).</summary>
    public long RdbKeySaveDelay, KeyLoadDelay;
    public long LoadingProcessEventsIntervalBytes;

    // AOF
    public bool AppendOnly;
    public string AppendFilename = "", AppendDirname = "";
    public string AppendFsync = "everysec";
    public bool AofRewriteIncrementalFsync, NoAppendFsyncOnRewrite, AofLoadTruncated, AofUseRdbPreamble;
    public bool AofTimestampEnabled, AofDisableAutoGc;
    public long AutoAofRewritePercentage, AutoAofRewriteMinSize;

    /// <summary>
    /// Set by the persistence layer: turns AOF on or off when "appendonly" changes at run time; returns
    /// null or why it could not (the CONFIG SET is then undone).
    /// </summary>
    public Func<string?>? AppendOnlyChanged;
    /// <summary>Set by the persistence layer: deletes AOF history when aof-disable-auto-gc is turned off.</summary>
    public Action? AofAutoGcChanged;

    public static readonly (long Seconds, long Changes)[] DefaultSavePoints = [(3600, 1), (300, 100), (60, 10000)];

    private bool _savePointsLoaded;

    partial void DeclarePersistence()
    {
        Add(new BoolConfig("rdbchecksum", () => RdbChecksum, v => RdbChecksum = v, true) { Flags = ConfigFlags.Immutable });
        Add(new BoolConfig("rdbcompression", () => RdbCompression, v => RdbCompression = v, true));
        Add(new BoolConfig("rdb-del-sync-files", () => RdbDelSyncFiles, v => RdbDelSyncFiles = v, false));
        Add(new BoolConfig("stop-writes-on-bgsave-error", () => StopWritesOnBgsaveError, v => StopWritesOnBgsaveError = v, true));
        Add(new BoolConfig("rdb-save-incremental-fsync", () => RdbSaveIncrementalFsync, v => RdbSaveIncrementalFsync = v, true));
        Add(new StringConfig("dbfilename", () => DbFilename, v => DbFilename = v, "dump.rdb")
        {
            Flags = ConfigFlags.Protected,
            Validate = v => IsBaseName(v) ? null : "dbfilename can't be a path, just a filename",
        });
        Add(new CustomConfig("save", () => string.Join(' ', SavePoints.Select(p => $"{p.Seconds} {p.Changes}")), SetSavePoints,
            "3600 1 300 100 60 10000")
        {
            Flags = ConfigFlags.MultiArg,
            RewriteWith = RewriteSavePoints,
        });
        Add(new NumberConfig("rdb-key-save-delay", () => RdbKeySaveDelay, v => RdbKeySaveDelay = v, 0, int.MinValue, int.MaxValue) { Flags = ConfigFlags.Hidden });
        Add(new NumberConfig("key-load-delay", () => KeyLoadDelay, v => KeyLoadDelay = v, 0, int.MinValue, int.MaxValue) { Flags = ConfigFlags.Hidden });
        Add(new NumberConfig("loading-process-events-interval-bytes", () => LoadingProcessEventsIntervalBytes,
            v => LoadingProcessEventsIntervalBytes = v, 2 * 1024 * 1024, 1024, int.MaxValue) { Flags = ConfigFlags.Hidden });

        Add(new BoolConfig("appendonly", () => AppendOnly, v => AppendOnly = v, false)
        {
            Flags = ConfigFlags.DenyLoading,
            Apply = () => AppendOnlyChanged?.Invoke(),
        });
        Add(new StringConfig("appendfilename", () => AppendFilename, v => AppendFilename = v, "appendonly.aof")
        {
            Flags = ConfigFlags.Immutable,
            Validate = v => v.Length == 0 ? "appendfilename can't be empty"
                : !IsBaseName(v) ? "appendfilename can't be a path, just a filename" : null,
        });
        Add(new StringConfig("appenddirname", () => AppendDirname, v => AppendDirname = v, "appendonlydir")
        {
            Flags = ConfigFlags.Immutable,
            Validate = v => v.Length == 0 ? "appenddirname can't be empty"
                : !IsBaseName(v) ? "appenddirname can't be a path, just a dirname" : null,
        });
        Add(new EnumConfig("appendfsync", () => AppendFsync, v => AppendFsync = v, "everysec", "everysec", "always", "no"));
        Add(new BoolConfig("aof-rewrite-incremental-fsync", () => AofRewriteIncrementalFsync, v => AofRewriteIncrementalFsync = v, true));
        Add(new BoolConfig("no-appendfsync-on-rewrite", () => NoAppendFsyncOnRewrite, v => NoAppendFsyncOnRewrite = v, false));
        Add(new BoolConfig("aof-load-truncated", () => AofLoadTruncated, v => AofLoadTruncated = v, true));
        Add(new BoolConfig("aof-use-rdb-preamble", () => AofUseRdbPreamble, v => AofUseRdbPreamble = v, true));
        Add(new BoolConfig("aof-timestamp-enabled", () => AofTimestampEnabled, v => AofTimestampEnabled = v, false));
        Add(new BoolConfig("aof-disable-auto-gc", () => AofDisableAutoGc, v => AofDisableAutoGc = v, false)
        {
            OnChange = () => { if (!AofDisableAutoGc) AofAutoGcChanged?.Invoke(); },
        });
        Add(new NumberConfig("auto-aof-rewrite-percentage", () => AutoAofRewritePercentage, v => AutoAofRewritePercentage = v, 100, 0, int.MaxValue));
        Add(new NumberConfig("auto-aof-rewrite-min-size", () => AutoAofRewriteMinSize, v => AutoAofRewriteMinSize = v, 64L * 1024 * 1024, 0, long.MaxValue)
        {
            IsMemory = true,
        });
    }

    /// <summary>Redis's pathIsBaseName: no '/' in the name.</summary>
    private static bool IsBaseName(string path) => !path.Contains('/');

    private string? SetSavePoints(string[] args)
    {
        // A single empty argument means "no save points".
        if (args.Length == 1 && args[0].Length == 0)
        {
            SavePoints = new();
            args = [];
        }
        if (args.Length % 2 != 0) return "Invalid save parameters";
        var points = new List<(long, long)>();
        for (int i = 0; i < args.Length; i += 2)
        {
            if (!TryParseSaveNumber(args[i], out long secs) || !TryParseSaveNumber(args[i + 1], out long changes) ||
                secs < 1 || changes < 0)
                return "Invalid save parameters";
            points.Add((secs, changes));
        }
        if (!ReadingConfigFile) SavePoints = points;
        else
        {
            // While reading the file, the first "save" replaces the built-in defaults and later ones add to it.
            if (!_savePointsLoaded)
            {
                _savePointsLoaded = true;
                SavePoints = new();
            }
            SavePoints.AddRange(points);
        }
        return null;
    }

    /// <summary>strtoll base 10 consuming the whole string (leading blanks and a sign allowed, "" is 0).</summary>
    private static bool TryParseSaveNumber(string s, out long v)
    {
        v = 0;
        int i = 0;
        while (i < s.Length && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) i++;
        bool negative = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
        int start = i;
        long acc = 0;
        for (; i < s.Length && s[i] >= '0' && s[i] <= '9'; i++)
        {
            acc = acc > (long.MaxValue - 9) / 10 ? long.MaxValue : acc * 10 + (s[i] - '0');
        }
        if (i == start) return s.Length == 0;
        if (i != s.Length) return false;
        v = negative ? -acc : acc;
        return true;
    }

    private void RewriteSavePoints(ConfigRewriter state)
    {
        // Written even at the defaults; an empty list is written as save "" so the defaults don't come back.
        if (SavePoints.Count == 0) state.RewriteLine("save", "save \"\"", true);
        foreach (var (secs, changes) in SavePoints) state.RewriteLine("save", $"save {secs} {changes}", true);
        state.MarkProcessed("save");
    }
}
