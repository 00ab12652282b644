using System.Globalization;
using System.Text;

namespace Redoubt.Server.Config;

/// <summary>How a directive may be changed and shown.</summary>
[Flags]
public enum ConfigFlags
{
    None = 0,
    /// <summary>Only in redis.conf or on the command line, not CONFIG SET.</summary>
    Immutable = 1,
    /// <summary>Takes several arguments (save, client-output-buffer-limit, bind...).</summary>
    MultiArg = 2,
    /// <summary>Left out of CONFIG GET patterns; answered only when named exactly (test and debug knobs).</summary>
    Hidden = 4,
    /// <summary>Password-like: redacted from MONITOR and the slow log.</summary>
    Sensitive = 8,
    /// <summary>CONFIG SET is refused unless enable-protected-configs allows it.</summary>
    Protected = 16,
    /// <summary>CONFIG SET is refused with -LOADING while the dataset is being loaded.</summary>
    DenyLoading = 32,
    /// <summary>Listed in debugging dumps of the configuration.</summary>
    Debug = 64,
    /// <summary>Its apply step runs on every CONFIG SET even when the value is unchanged (files re-read).</summary>
    Volatile = 128,
}

/// <summary>
/// One redis.conf directive: its name and alias, how to read and change it, its default, and how
/// CONFIG REWRITE writes it. CONFIG SET runs <see cref="Set"/> on every named directive first, then
/// the <see cref="Apply"/> and <see cref="OnChange"/> steps of those whose value changed.
/// </summary>
public abstract class ConfigEntry
{
    public string Name { get; }
    public string[] Aliases { get; init; } = Array.Empty<string>();
    public ConfigFlags Flags { get; init; }
    /// <summary>Runs after a successful CONFIG SET changed the value (side effects that cannot fail).</summary>
    public Action? OnChange { get; init; }
    /// <summary>
    /// Runs after CONFIG SET changed the value; returns null or why the new value could not be put into
    /// effect, in which case every directive of the command is restored. The same delegate instance shared
    /// by several directives runs once per command.
    /// </summary>
    public Func<string?>? Apply { get; init; }

    protected ConfigEntry(string name) => Name = name;

    public bool IsImmutable => (Flags & ConfigFlags.Immutable) != 0;
    public bool IsMultiArg => (Flags & ConfigFlags.MultiArg) != 0;
    public bool IsHidden => (Flags & ConfigFlags.Hidden) != 0;
    public bool IsSensitive => (Flags & ConfigFlags.Sensitive) != 0;

    /// <summary>The value as CONFIG GET prints it.</summary>
    public abstract string Get();

    /// <summary>Sets from arguments; returns null or the reason it failed (Redis's wording).</summary>
    public abstract string? Set(string[] args);

    /// <summary>The lines CONFIG REWRITE writes for this directive (several for "save").</summary>
    public virtual IEnumerable<string> RewriteLines() => [Name + " " + Quote(Get())];

    /// <summary>The default, as CONFIG GET prints it right after start-up with no config.</summary>
    public string Default { get; protected set; } = "";

    public virtual bool IsDefault => Get() == Default;

    /// <summary>
    /// Updates the file being rewritten: lines already in the file for this directive are replaced,
    /// and new ones are appended only when the value differs from the default.
    /// </summary>
    public virtual void Rewrite(ConfigRewriter state)
    {
        bool force = !IsDefault;
        foreach (var line in RewriteLines()) state.RewriteLine(Name, line, force);
        state.MarkProcessed(Name);
    }

    /// <summary>Quotes a value for redis.conf only when it needs it (empty, blanks, quotes, controls).</summary>
    public static string Quote(string value)
    {
        if (value.Length > 0 && value.AsSpan().IndexOfAny(" \t\"'\\\r\n") < 0 && IsAllPrintable(value)) return value;
        return Repr(value);
    }

    private static bool IsAllPrintable(string s)
    {
        foreach (char c in s) if (c < 32 || c > 126) return false;
        return true;
    }

    /// <summary>
    /// Redis's sdscatrepr: always double-quoted, with \\ \" \n \r \t \a \b escapes and \xHH for any other
    /// byte that is not printable ASCII. The loader's splitter reads it back to the same bytes.
    /// </summary>
    public static string Repr(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '"': sb.Append("\\\""); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\a': sb.Append("\\a"); break;
                case '\b': sb.Append("\\b"); break;
                default:
                    if (c < 32 || c > 126) sb.Append("\\x").Append(((int)c & 0xff).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>strcasecmp-style equality: only ASCII letters fold.</summary>
    public static bool AsciiEquals(string a, string b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
        {
            char x = a[i], y = b[i];
            if (x is >= 'A' and <= 'Z') x = (char)(x | 0x20);
            if (y is >= 'A' and <= 'Z') y = (char)(y | 0x20);
            if (x != y) return false;
        }
        return true;
    }
}

public sealed class BoolConfig : ConfigEntry
{
    private readonly Func<bool> _get;
    private readonly Action<bool> _set;
    private readonly bool _default;
    /// <summary>Refuses some values (e.g. activedefrag yes without a defragmenter).</summary>
    public Func<bool, string?>? Validate { get; init; }

    public BoolConfig(string name, Func<bool> get, Action<bool> set, bool defaultValue) : base(name)
    {
        _get = get;
        _set = set;
        _default = defaultValue;
        set(defaultValue);
        Default = defaultValue ? "yes" : "no";
    }

    public override string Get() => _get() ? "yes" : "no";

    public override string? Set(string[] args)
    {
        bool v;
        if (AsciiEquals(args[0], "yes")) v = true;
        else if (AsciiEquals(args[0], "no")) v = false;
        else return "argument must be 'yes' or 'no'";
        if (Validate?.Invoke(v) is string err) return err;
        _set(v);
        return null;
    }

    public override bool IsDefault => _get() == _default;
    public override IEnumerable<string> RewriteLines() => [Name + " " + Get()];
}

/// <summary>
/// Integer directive. Memory directives accept units (1k = 1000, 1kb = 1024, ...); percent directives
/// also accept "N%" (kept as -N, with a negative minimum bounding the percentage); octal ones read and
/// print base 8; unsigned ones compare their bounds as unsigned numbers like Redis's unsigned types.
/// </summary>
public sealed class NumberConfig : ConfigEntry
{
    /// <summary>ULLONG_MAX as stored in a long, for unsigned 64-bit directives (maxmemory).</summary>
    public const long ULongMax = -1;

    private readonly Func<long> _get;
    private readonly Action<long> _set;
    private readonly long _min, _max;
    public long DefaultValue { get; }
    public bool IsMemory { get; init; }
    public bool AllowPercent { get; init; }
    public bool IsOctal { get; init; }
    public bool IsUnsigned { get; init; }
    public Func<long, string?>? Validate { get; init; }

    public NumberConfig(string name, Func<long> get, Action<long> set, long defaultValue, long min, long max) : base(name)
    {
        _get = get;
        _set = set;
        _min = min;
        _max = max;
        DefaultValue = defaultValue;
        set(defaultValue);
        Default = defaultValue.ToString(CultureInfo.InvariantCulture);
    }

    public override string Get()
    {
        long v = _get();
        if (AllowPercent && v < 0) return (-v).ToString(CultureInfo.InvariantCulture) + "%";
        if (IsMemory) return ((ulong)v).ToString(CultureInfo.InvariantCulture);
        if (IsOctal) return Convert.ToString(v, 8);
        if (IsUnsigned) return ((ulong)v).ToString(CultureInfo.InvariantCulture);
        return v.ToString(CultureInfo.InvariantCulture);
    }

    public override bool IsDefault => _get() == DefaultValue;

    public override string? Set(string[] args)
    {
        if (!TryParse(args[0], out long v, out string? parseError)) return parseError;
        if (CheckBounds(v) is string rangeError) return rangeError;
        if (Validate?.Invoke(v) is string err) return err;
        _set(v);
        return null;
    }

    private bool TryParse(string s, out long v, out string? error)
    {
        error = null;
        if (IsMemory && MemoryUnits.TryParseUnsigned(s, out ulong u))
        {
            v = (long)u;
            return true;
        }
        if (AllowPercent && s.Length > 1 && s[^1] == '%' &&
            Protocol.NumberParser.TryParseInt64(s[..^1], out v) && v >= 0)
        {
            v = -v;
            return true;
        }
        if (IsOctal && TryParseOctal(s, out v)) return true;
        if (!IsMemory && !AllowPercent && !IsOctal && Protocol.NumberParser.TryParseInt64(s, out v)) return true;
        v = 0;
        error = IsMemory && AllowPercent ? "argument must be a memory or percent value"
            : IsMemory ? "argument must be a memory value"
            : IsOctal ? "argument couldn't be parsed as an octal number"
            : "argument couldn't be parsed into an integer";
        return false;
    }

    /// <summary>strtoll(s, &amp;end, 8) consuming the whole string: leading blanks and a sign allowed, "" is 0.</summary>
    private static bool TryParseOctal(string s, out long v)
    {
        v = 0;
        int i = 0;
        while (i < s.Length && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) i++;
        bool negative = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
        int start = i;
        ulong acc = 0;
        for (; i < s.Length && s[i] >= '0' && s[i] <= '7'; i++)
        {
            acc = acc * 8 + (ulong)(s[i] - '0');
            if (acc > (ulong)long.MaxValue + 1) return false;
        }
        if (i == start) return s.Length == 0; // no digits: only the empty string ends at its terminator
        if (i != s.Length) return false;
        if (!negative && acc > long.MaxValue) return false;
        v = negative ? (long)(0 - acc) : (long)acc;
        return true;
    }

    private string? CheckBounds(long v)
    {
        if (IsUnsigned)
        {
            ulong uv = (ulong)v, lo = (ulong)_min, hi = (ulong)_max;
            if (uv <= hi && uv >= lo) return null;
            return IsOctal
                ? $"argument must be between {Convert.ToString(_min, 8)} and {Convert.ToString(_max, 8)} inclusive"
                : $"argument must be between {lo} and {hi} inclusive";
        }
        if (AllowPercent && v < 0)
            return v < _min ? $"percentage argument must be less or equal to {-_min}" : null;
        if (v > _max || v < _min) return $"argument must be between {_min} and {_max} inclusive";
        return null;
    }

    public override IEnumerable<string> RewriteLines()
    {
        long v = _get();
        if (AllowPercent && v < 0) return [$"{Name} {-v}%"];
        if (IsMemory) return [Name + " " + MemoryUnits.Format(v)];
        if (IsOctal) return [Name + " " + Convert.ToString(v, 8)];
        return [Name + " " + v.ToString(CultureInfo.InvariantCulture)];
    }

    public override void Rewrite(ConfigRewriter state)
    {
        long v = _get();
        // A percentage is compared with the default as its positive number, as Redis does.
        bool force = AllowPercent && v < 0 ? -v != DefaultValue : v != DefaultValue;
        foreach (var line in RewriteLines()) state.RewriteLine(Name, line, force);
    }
}

/// <summary>One-of-a-set directive. Values are lower-case; input is matched case-insensitively.</summary>
public sealed class EnumConfig : ConfigEntry
{
    private readonly Func<string> _get;
    private readonly Action<string> _set;
    private readonly string[] _values;
    /// <summary>Accepted spellings stored as another value (oom-score-adj: relative is shown as yes).</summary>
    public IReadOnlyDictionary<string, string>? Synonyms { get; init; }
    public Func<string, string?>? Validate { get; init; }

    public EnumConfig(string name, Func<string> get, Action<string> set, string defaultValue, params string[] values) : base(name)
    {
        _get = get;
        _set = set;
        _values = values;
        set(defaultValue);
        Default = defaultValue;
    }

    public IReadOnlyList<string> Values => _values;

    public override string Get() => _get();

    public override string? Set(string[] args)
    {
        string? v = null;
        foreach (var candidate in _values)
        {
            if (AsciiEquals(candidate, args[0])) { v = candidate; break; }
        }
        if (v is null) return "argument(s) must be one of the following: " + string.Join(", ", _values);
        if (Synonyms != null && Synonyms.TryGetValue(v, out var canonical)) v = canonical;
        if (Validate?.Invoke(v) is string err) return err;
        _set(v);
        return null;
    }

    public override IEnumerable<string> RewriteLines() => [Name + " " + Get()];
}

/// <summary>
/// A multi-argument enum whose words are OR-ed bit flags (shutdown-on-sigterm "nosave now"); shown as
/// the matching words in declaration order, or the word whose value is 0 when none is set.
/// </summary>
public sealed class FlagsEnumConfig : ConfigEntry
{
    private readonly Func<int> _get;
    private readonly Action<int> _set;
    private readonly (string Name, int Value)[] _values;
    private readonly int _default;
    public Func<int, string?>? Validate { get; init; }

    public FlagsEnumConfig(string name, Func<int> get, Action<int> set, int defaultValue, params (string Name, int Value)[] values) : base(name)
    {
        _get = get;
        _set = set;
        _values = values;
        _default = defaultValue;
        set(defaultValue);
        Default = Format(defaultValue);
    }

    public string Format(int flags)
    {
        var names = new List<string>();
        int unmatched = flags;
        foreach (var (n, v) in _values)
        {
            if (flags == v) return n;
            if (v != 0 && (unmatched & v) == v)
            {
                names.Add(n);
                unmatched &= ~v;
            }
        }
        return names.Count == 0 || unmatched != 0 ? "unknown" : string.Join(' ', names);
    }

    public override string Get() => Format(_get());

    public override string? Set(string[] args)
    {
        int flags = 0;
        bool ok = args.Length > 0;
        foreach (var a in args)
        {
            bool matched = false;
            foreach (var (n, v) in _values)
            {
                if (AsciiEquals(n, a)) { flags |= v; matched = true; }
            }
            if (!matched) { ok = false; break; }
        }
        if (!ok) return "argument(s) must be one of the following: " + string.Join(", ", _values.Select(v => v.Name));
        if (Validate?.Invoke(flags) is string err) return err;
        _set(flags);
        return null;
    }

    public override bool IsDefault => _get() == _default;
    public override IEnumerable<string> RewriteLines() => [Name + " " + Get()];
}

/// <summary>
/// Free-form string directive. With <see cref="EmptyIsNull"/> an empty value means "not set": CONFIG
/// REWRITE then removes the directive from the file instead of writing an empty string.
/// </summary>
public sealed class StringConfig : ConfigEntry
{
    private readonly Func<string> _get;
    private readonly Action<string> _set;
    public Func<string, string?>? Validate { get; init; }
    public bool EmptyIsNull { get; init; }

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

    public override IEnumerable<string> RewriteLines() => [Name + " " + Repr(Get())];

    public override void Rewrite(ConfigRewriter state)
    {
        string v = Get();
        if (EmptyIsNull && v.Length == 0)
        {
            state.MarkProcessed(Name);
            return;
        }
        state.RewriteLine(Name, Name + " " + Repr(v), v != Default || EmptyIsNull);
    }
}

/// <summary>A directive with its own parsing (save, bind, client-output-buffer-limit, ...).</summary>
public sealed class CustomConfig : ConfigEntry
{
    private readonly Func<string> _get;
    private readonly Func<string[], string?> _set;
    private readonly Func<IEnumerable<string>>? _rewrite;
    /// <summary>Replaces the default rewrite rule (replace existing lines, append when not default).</summary>
    public Action<ConfigRewriter>? RewriteWith { get; init; }

    /// <param name="setDefault">Whether to apply <paramref name="defaultValue"/> now (false for values derived from elsewhere, such as dir).</param>
    public CustomConfig(string name, Func<string> get, Func<string[], string?> set, string defaultValue,
        Func<IEnumerable<string>>? rewrite = null, bool setDefault = true) : base(name)
    {
        _get = get;
        _set = set;
        _rewrite = rewrite;
        Default = defaultValue;
        if (setDefault && set(InlineArgs(defaultValue)) is string err) throw new InvalidOperationException($"bad default for {name}: {err}");
    }

    private static string[] InlineArgs(string s)
    {
        if (!Protocol.InlineSplitter.Split(s, out List<string> parts)) return [s];
        return parts.Count == 0 ? [""] : parts.ToArray();
    }

    public override string Get() => _get();
    public override string? Set(string[] args) => _set(args);
    public override IEnumerable<string> RewriteLines() => _rewrite?.Invoke() ?? base.RewriteLines();

    public override void Rewrite(ConfigRewriter state)
    {
        if (RewriteWith != null) RewriteWith(state);
        else base.Rewrite(state);
    }
}

/// <summary>Redis's memtoull: digits with an optional b/k/kb/m/mb/g/gb unit (k = 1000, kb = 1024), no sign.</summary>
public static class MemoryUnits
{
    public static bool TryParseUnsigned(string s, out ulong value)
    {
        value = 0;
        if (s.Length > 0 && s[0] == '-') return false;
        int i = 0;
        while (i < s.Length && s[i] >= '0' && s[i] <= '9') i++;
        string unit = s[i..];
        ulong mul;
        if (unit.Length == 0 || ConfigEntry.AsciiEquals(unit, "b")) mul = 1;
        else if (ConfigEntry.AsciiEquals(unit, "k")) mul = 1000;
        else if (ConfigEntry.AsciiEquals(unit, "kb")) mul = 1024;
        else if (ConfigEntry.AsciiEquals(unit, "m")) mul = 1000 * 1000;
        else if (ConfigEntry.AsciiEquals(unit, "mb")) mul = 1024 * 1024;
        else if (ConfigEntry.AsciiEquals(unit, "g")) mul = 1000UL * 1000 * 1000;
        else if (ConfigEntry.AsciiEquals(unit, "gb")) mul = 1024UL * 1024 * 1024;
        else return false;
        if (i >= 128) return false;
        // strtoull: no digits reads as 0; overflow saturates rather than failing.
        ulong n = 0;
        for (int j = 0; j < i; j++)
        {
            ulong d = (ulong)(s[j] - '0');
            if (n > (ulong.MaxValue - d) / 10) { n = ulong.MaxValue; break; }
            n = n * 10 + d;
        }
        value = unchecked(n * mul);
        return true;
    }

    /// <summary>A memory value that must also fit a signed 64-bit number.</summary>
    public static bool TryParse(string s, out long value)
    {
        value = 0;
        if (!TryParseUnsigned(s, out ulong u) || u > long.MaxValue) return false;
        value = (long)u;
        return true;
    }

    /// <summary>Formats as CONFIG REWRITE does: the largest exact binary unit (gb, mb, kb) or bytes.</summary>
    public static string Format(long v)
    {
        const long gb = 1024L * 1024 * 1024, mb = 1024L * 1024, kb = 1024;
        if (v != 0 && v % gb == 0) return (v / gb).ToString(CultureInfo.InvariantCulture) + "gb";
        if (v != 0 && v % mb == 0) return (v / mb).ToString(CultureInfo.InvariantCulture) + "mb";
        if (v != 0 && v % kb == 0) return (v / kb).ToString(CultureInfo.InvariantCulture) + "kb";
        return v.ToString(CultureInfo.InvariantCulture);
    }
}
