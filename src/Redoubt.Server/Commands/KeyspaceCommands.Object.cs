using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>OBJECT ENCODING | REFCOUNT | IDLETIME | FREQ | HELP (object.c).</summary>
public static partial class KeyspaceCommands
{
    private static void BindObject(CommandTable t)
    {
        t.Bind("object|help", ObjectHelp);
        t.Bind("object|encoding", ObjectEncoding);
        t.Bind("object|refcount", ObjectRefCount);
        t.Bind("object|idletime", ObjectIdleTime);
        t.Bind("object|freq", ObjectFreq);
    }

    /// <summary>Redis's OBJ_SHARED_REFCOUNT: what OBJECT REFCOUNT reports for the shared small integers.</summary>
    private const long SharedRefCount = int.MaxValue;

    /// <summary>Redis shares the string objects of the integers 0..9999 (OBJ_SHARED_INTEGERS).</summary>
    private const long SharedIntegers = 10000;

    /// <summary>Longest string Redis stores in one allocation with its header (OBJ_ENCODING_EMBSTR_SIZE_LIMIT).</summary>
    private const int EmbstrSizeLimit = 44;

    private static readonly string[] ObjectHelpLines =
    [
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
    ];

    /// <summary>Redis's addReplyHelp: a header naming the command, the lines, and the HELP entry, as status replies.</summary>
    internal static void ReplyHelp(Client c, string[] lines)
    {
        c.Reply.ArrayHeader(lines.Length + 3);
        c.Reply.Simple(System.Text.Encoding.Latin1.GetString(c.Arg(0)).ToUpperInvariant() + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
        foreach (var line in lines) c.Reply.Simple(line);
        c.Reply.Simple("HELP");
        c.Reply.Simple("    Prints this help.");
    }

    private static void ObjectHelp(Client c) => ReplyHelp(c, ObjectHelpLines);

    /// <summary>OBJECT's lookup: no access stamp, no keyspace miss notification; a missing key replies null.</summary>
    private static int ObjectLookup(Client c)
    {
        int slot = c.Db.FindForRead(c.Arg(2), noTouch: true, noNotify: true);
        if (slot < 0) c.Reply.Null();
        return slot;
    }

    /// <summary>True when a string value is an integer in canonical form that fits a long (Redis's string2l).</summary>
    public static bool IsCanonicalLong(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.Length == 0 || s.Length > 20) return false;
        if (s.Length == 1 && s[0] == '0') return true;
        int i = 0;
        bool negative = s[0] == '-';
        if (negative) i = 1;
        // No '+', no leading zero, no "-0", no lone "-".
        if (i == s.Length || s[i] < '1' || s[i] > '9') return false;
        ulong v = 0;
        for (; i < s.Length; i++)
        {
            uint d = (uint)(s[i] - '0');
            if (d > 9) return false;
            if (v > (ulong.MaxValue - d) / 10) return false;
            v = v * 10 + d;
        }
        if (negative)
        {
            if (v > (ulong)long.MaxValue + 1) return false;
            value = unchecked(-(long)v);
        }
        else
        {
            if (v > long.MaxValue) return false;
            value = (long)v;
        }
        return true;
    }

    /// <summary>The encoding Redis would report for a string value: "int", "embstr" or "raw".</summary>
    public static string StringEncoding(ReadOnlySpan<byte> value)
        => IsCanonicalLong(value, out _) ? "int" : value.Length <= EmbstrSizeLimit ? "embstr" : "raw";

    private static void ObjectEncoding(Client c)
    {
        int slot = ObjectLookup(c);
        if (slot < 0) return;
        var obj = c.Db.ObjectAt(slot);
        c.Reply.Bulk(obj is byte[] rec ? StringEncoding(StringRecord.Value(rec)) : ((RedisObject)obj).Encoding);
    }

    private static void ObjectRefCount(Client c)
    {
        int slot = ObjectLookup(c);
        if (slot < 0) return;
        // Redis shares one object per small integer unless an LRU/LFU policy needs per-key access data.
        bool shared = c.Db.ObjectAt(slot) is byte[] rec
            && IsCanonicalLong(StringRecord.Value(rec), out long v) && v >= 0 && v < SharedIntegers
            && (c.Server.Config.MaxMemory == 0 || !c.Server.NoSharedIntegers);
        c.Reply.Integer(shared ? SharedRefCount : 1);
    }

    private static void ObjectIdleTime(Client c)
    {
        int slot = ObjectLookup(c);
        if (slot < 0) return;
        if (c.Server.LfuPolicy)
        {
            c.Reply.Error("An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
            return;
        }
        // The access bits hold the seconds clock (24 bits, wrapping) at the last access.
        c.Reply.Integer(c.Server.EstimateIdleMs(c.Db.MetaAt(slot)) / 1000);
    }

    private static void ObjectFreq(Client c)
    {
        int slot = ObjectLookup(c);
        if (slot < 0) return;
        if (!c.Server.LfuPolicy)
        {
            c.Reply.Error("An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
            return;
        }
        c.Reply.Integer(c.Server.LfuDecrAndReturn(c.Db.MetaAt(slot)));
    }
}
