using System.Globalization;

namespace Redoubt.Server.Config;

/// <summary>How a directive may be changed.</summary>
[Flags]
public enum ConfigFlags
{
    None = 0,
    /// <summary>Only in redis.conf or on the command line, not CONFIG SET.</summary>
    Immutable = 1,
    /// <summary>Takes several arguments (save, client-output-buffer-limit, bind...).</summary>
    MultiArg = 2,
    /// <summary>Hidden from CONFIG GET * unless named exactly (debug-only settings).</summary>
    Hidden = 4,
    /// <summary>Password-like: not printed in logs.</summary>
    Sensitive = 8,
    /// <summary>CONFIG SET is refused unless enable-protected-configs allows it.</summary>
    Protected = 16,
    /// <summary>Not written back by CONFIG REWRITE when it equals its default.</summary>
    DenyLoading = 32,
}

/// <summary>
/// One redis.conf directive: its name and aliases, how to read and change it, and its default
/// (CONFIG REWRITE omits directives still at their default, as Redis does).
/// </summary>
public abstract class ConfigEntry
{
    public string Name { get; }
    public string[] Aliases { get; init; } = Array.Empty<string>();
    public ConfigFlags Flags { get; init; }
    /// <summary>Runs after a successful CONFIG SET to apply side effects to the running server.</summary>
    public Action? OnChange { get; init; }

    protected ConfigEntry(string name) => Name = name;

    public bool IsImmutable => (Flags & ConfigFlags.Immutable) != 0;
    public bool IsMultiArg => (Flags & ConfigFlags.MultiArg) != 0;

    /// <summary>The value as CONFIG GET prints it.</summary>
    public abstract string Get();

    /// <summary>Sets from arguments; returns null or the reason it failed (Redis's wording).</summary>
    public abstract string? Set(string[] args);

    /// <summary>The value CONFIG REWRITE writes, one line per element ("save" has several).</summary>
    public virtual IEnumerable<string> RewriteLines() => [Name + " " + Quote(Get())];

    /// <summary>The default, as CONFIG GET would print it right after start-up with no config.</summary>
    public string Default { get; protected set; } = "";

    public virtual bool IsDefault => Get() == Default;

    /// <summary>Quotes a value for redis.conf when it contains blanks or is empty (sdscatrepr-like).</summary>
    public static string Quote(string value)
    {
        if (value.Length > 0 && value.AsSpan().IndexOfAny(" \t\"'\\\r\n") < 0) return value;
        var sb = new System.Text.StringBuilder("\"");
        foreach (char c in value)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '"': sb.Append("\\\""); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 32 || c > 126) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}

public sealed class BoolConfig : ConfigEntry
{
    private readonly Func<bool> _get;
    private readonly Action<bool> _set;

    public BoolConfig(string name, Func<bool> get, Action<bool> set, bool defaultValue) : base(name)
    {
        _get = get;
        _set = set;
        set(defaultValue);
        Default = defaultValue ? "yes" : "no";
    }

    public override string Get() => _get() ? "yes" : "no";

    public override string? Set(string[] args)
    {
        string v = args[0].ToLowerInvariant();
        if (v == "yes") _set(true);
        else if (v == "no") _set(false);
        else return "argument must be 'yes' or 'no'";
        return null;
    }
}

/// <summary>Integer directive; memory directives accept units (1k, 5mb, 1gb) and percentages where allowed.</summary>
public sealed class NumberConfig : ConfigEntry
{
    private readonly Func<long> _get;
    private readonly Action<long> _set;
    private readonly long _min, _max;
    public bool IsMemory { get; init; }
    /// <summary>Memory values that may also be given as a percentage ("50%"), stored as a negative number.</summary>
    public bool AllowPercent { get; init; }
    public Func<long, string?>? Validate { get; init; }

    public NumberConfig(string name, Func<long> get, Action<long> set, long defaultValue, long min, long max) : base(name)
    {
        _get = get;
        _set = set;
        _min = min;
        _max = max;
        set(defaultValue);
        Default = defaultValue.ToString(CultureInfo.InvariantCulture);
    }

    public override string Get()
    {
        long v = _get();
        if (AllowPercent && v < 0) return (-v).ToString(CultureInfo.InvariantCulture) + "%";
        return v.ToString(CultureInfo.InvariantCulture);
    }

    public override string? Set(string[] args)
    {
        string s = args[0];
        long v;
        if (AllowPercent && s.EndsWith('%'))
        {
            if (!long.TryParse(s[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out long pct)) return "argument must be a memory or percent value";
            v = -pct;
        }
        else if (IsMemory)
        {
            if (!MemoryUnits.TryParse(s, out v)) return "argument must be a memory value";
        }
        else if (!Protocol.NumberParser.TryParseInt64(s, out v)) return "argument couldn't be parsed into an integer";
        if (v < _min || v > _max)
        {
            if (!(AllowPercent && v < 0))
                return $"argument must be between {_min} and {_max} inclusive";
        }
        if (Validate?.Invoke(v) is string err) return err;
        _set(v);
        return null;
    }

    public override IEnumerable<string> RewriteLines()
    {
        long v = _get();
        if (IsMemory && v > 0) return [Name + " " + MemoryUnits.Format(v)];
        return [Name + " " + Get()];
    }
}

public sealed class EnumConfig : ConfigEntry
{
    private readonly Func<string> _get;
    private readonly Action<string> _set;
    private readonly string[] _values;

    public EnumConfig(string name, Func<string> get, Action<string> set, string defaultValue, params string[] values) : base(name)
    {
        _get = get;
        _set = set;
        _values = values;
        set(defaultValue);
        Default = defaultValue;
    }

    public override string Get() => _get();

    public override string? Set(string[] args)
    {
        string v = args[0].ToLowerInvariant();
        if (Array.IndexOf(_values, v) < 0) return "argument(s) must be one of the following: " + string.Join(", ", _values);
        _set(v);
        return null;
    }
}

public sealed class StringConfig : ConfigEntry
{
    private readonly Func<string> _get;
    private readonly Action<string> _set;
    public Func<string, string?>? Validate { get; init; }

    public StringConfig(string name, Func<string> get, Action<string> set, string defaultValue) : base(name)
    {
        _get = get;
        _set = set;
        set(defaultValue);
        Default = defaultValue;
    }

    public override string Get() => _get();

    public override string? Set(string[] args)
    {
        if (Validate?.Invoke(args[0]) is string err) return err;
        _set(args[0]);
        return null;
    }
}

/// <summary>A directive with its own parsing (save, bind, client-output-buffer-limit, ...).</summary>
public sealed class CustomConfig : ConfigEntry
{
    private readonly Func<string> _get;
    private readonly Func<string[], string?> _set;
    private readonly Func<IEnumerable<string>>? _rewrite;

    public CustomConfig(string name, Func<string> get, Func<string[], string?> set, string defaultValue,
        Func<IEnumerable<string>>? rewrite = null) : base(name)
    {
        _get = get;
        _set = set;
        _rewrite = rewrite;
        Default = defaultValue;
        if (set(InlineArgs(defaultValue)) is string err) throw new InvalidOperationException($"bad default for {name}: {err}");
    }

    private static string[] InlineArgs(string s)
        => Protocol.InlineSplitter.Split(s, out List<string> parts) ? parts.ToArray() : [s];

    public override string Get() => _get();
    public override string? Set(string[] args) => _set(args);
    public override IEnumerable<string> RewriteLines() => _rewrite?.Invoke() ?? base.RewriteLines();
}

/// <summary>Redis's memtoll: a number with an optional k/kb/m/mb/g/gb unit (k = 1000, kb = 1024).</summary>
public static class MemoryUnits
{
    public static bool TryParse(string s, out long value)
    {
        value = 0;
        string lower = s.ToLowerInvariant();
        long mul = 1;
        string digits = lower;
        (string suffix, long m)[] units =
        [
            ("kb", 1024), ("mb", 1024L * 1024), ("gb", 1024L * 1024 * 1024),
            ("k", 1000), ("m", 1000L * 1000), ("g", 1000L * 1000 * 1000), ("b", 1),
        ];
        foreach (var (suffix, m) in units)
        {
            if (lower.EndsWith(suffix, StringComparison.Ordinal))
            {
                mul = m;
                digits = lower[..^suffix.Length];
                break;
            }
        }
        if (digits.Length == 0) return false;
        if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n)) return false;
        try { value = checked(n * mul); } catch (OverflowException) { return false; }
        return true;
    }

    /// <summary>Formats as CONFIG REWRITE does: the largest exact binary unit (gb, mb, kb) or bytes.</summary>
    public static string Format(long v)
    {
        const long gb = 1024L * 1024 * 1024, mb = 1024L * 1024, kb = 1024;
        if (v == 0) return "0";
        if (v % gb == 0) return (v / gb) + "gb";
        if (v % mb == 0) return (v / mb) + "mb";
        if (v % kb == 0) return (v / kb) + "kb";
        return v.ToString(CultureInfo.InvariantCulture);
    }
}
