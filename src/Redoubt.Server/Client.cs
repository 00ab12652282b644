using System.Runtime.CompilerServices;
using System.Text;
using Redoubt.Server.Commands;
using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

/// <summary>Client flags shown by CLIENT LIST (flags=...) and used by the gate.</summary>
[Flags]
public enum ClientFlags
{
    None = 0,
    Multi = 1 << 0,
    DirtyExec = 1 << 1,       // a queued command failed: EXEC will abort
    DirtyCas = 1 << 2,        // a WATCHed key changed
    CloseAfterReply = 1 << 3,
    CloseAsap = 1 << 4,
    Blocked = 1 << 5,
    PubSub = 1 << 6,
    Monitor = 1 << 7,
    Master = 1 << 8,          // the link to our master
    Replica = 1 << 9,         // a replica connected to us
    NoEvict = 1 << 10,
    NoTouch = 1 << 11,
    Unblocked = 1 << 12,
    ReadOnly = 1 << 13,
    TrackingOn = 1 << 14,
    ProtocolError = 1 << 15,
    Paused = 1 << 16,
    DenyBlocking = 1 << 17,   // expects one reply per command (inside EXEC): no blocking, no SSUBSCRIBE
    Script = 1 << 18,         // the client scripts run their commands through
    AofLoading = 1 << 19,     // the client replaying the AOF
}

public enum ReplyMode { On, Off, Skip, SkipNext }

/// <summary>
/// One connected client: its selected database, protocol, authentication, transaction state, and the
/// current command's arguments, which are slices of the query buffer (zero copy) or, for inline and
/// queued commands, owned arrays.
/// </summary>
public sealed partial class Client
{
    public readonly long Id;
    public readonly RedisServer Server;
    public readonly ReplyWriter Reply = new();
    internal readonly RespParser Parser = new();

    public Database Db;
    public int DbIndex;
    public ClientFlags Flags;
    public ReplyMode ReplyMode = ReplyMode.On;

    /// <summary>Redis's mustObeyClient: the master link or the AOF replay, whose commands are applied as given.</summary>
    public bool MustObey => (Flags & (ClientFlags.Master | ClientFlags.AofLoading)) != 0;
    public string? Name;
    public string LibName = "", LibVersion = "";
    public bool Authenticated;
    public Security.AclUser User;

    public readonly long CreatedAtMs = Database.NowMs();
    public long LastInteractionMs = Database.NowMs();
    /// <summary>The replication offset right after this client's last propagated write (what WAIT waits for).</summary>
    public long WriteOffset;
    public string Address = "", LocalAddress = "";
    public bool IsLoopback = true;
    public bool IsUnixSocket;

    // The command being executed.
    public Command? Cmd;
    public Command? LastCmd;
    public int Argc;
    private byte[] _argBuffer = Array.Empty<byte>();
    private int[] _argOffsets = new int[16];
    private int[] _argLengths = new int[16];
    private byte[][]? _ownedArgs;

    // Query buffer: bytes [QueryStart, QueryEnd) are received and not yet consumed.
    internal byte[] QueryBuf = new byte[16 * 1024];
    internal int QueryStart, QueryEnd;
    /// <summary>Total bytes the pending command needs before parsing is worth retrying (0 = unknown).</summary>
    internal int QueryNeeded;
    public long QueryBufPeak;

    public Client(long id, RedisServer server)
    {
        Id = id;
        Server = server;
        Db = server.Databases[0];
        User = server.Acl.DefaultUser;
        Reply.OnError = server.Stats.CountError;
    }

    public string ArgsToString()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < Argc; i++)
        {
            if (i > 0) sb.Append(' ');
            sb.Append(Encoding.Latin1.GetString(Arg(i)));
        }
        return sb.ToString();
    }

    // ---- argument access -------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> Arg(int i)
        => _ownedArgs != null ? _ownedArgs[i] : new ReadOnlySpan<byte>(_argBuffer, _argOffsets[i], _argLengths[i]);

    /// <summary>An owned copy of argument <paramref name="i"/> (for storing).</summary>
    public byte[] ArgBytes(int i) => Arg(i).ToArray();

    public string ArgString(int i) => Encoding.UTF8.GetString(Arg(i));

    /// <summary>ASCII case-insensitive comparison with a lower-case literal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool ArgIs(int i, ReadOnlySpan<byte> lowerLiteral) => Ascii.EqualsIgnoreCase(Arg(i), lowerLiteral);

    /// <summary>All arguments as owned arrays (MULTI queue, MONITOR, replication).</summary>
    public byte[][] CopyArgs()
    {
        var copy = new byte[Argc][];
        for (int i = 0; i < Argc; i++) copy[i] = Arg(i).ToArray();
        return copy;
    }

    /// <summary>Points the current command at the parser's output over the query buffer.</summary>
    internal void SetArgsFromParser()
    {
        int n = Parser.Count;
        Argc = n;
        if (Parser.HasOwnedArgs)
        {
            var owned = new byte[n][];
            for (int i = 0; i < n; i++) owned[i] = Parser.InlineArg(i)!;
            _ownedArgs = owned;
            return;
        }
        _ownedArgs = null;
        _argBuffer = QueryBuf;
        if (_argOffsets.Length < n)
        {
            _argOffsets = new int[Math.Max(n, _argOffsets.Length * 2)];
            _argLengths = new int[_argOffsets.Length];
        }
        for (int i = 0; i < n; i++)
        {
            _argOffsets[i] = Parser.Offset(i);
            _argLengths[i] = Parser.Length(i);
        }
    }

    /// <summary>Executes a stored argument vector (EXEC's queue, scripts, the replication stream).</summary>
    public void SetArgs(byte[][] argv)
    {
        _ownedArgs = argv;
        Argc = argv.Length;
    }

    // ---- argument parsing helpers with Redis's error replies --------------

    public bool TryGetLong(int i, out long value, string error = "value is not an integer or out of range")
    {
        if (NumberParser.TryParseInt64(Arg(i), out value)) return true;
        Reply.Error(error);
        return false;
    }

    public bool TryGetDouble(int i, out double value, string error = "value is not a valid float")
    {
        if (NumberParser.TryParseDouble(Arg(i), out value)) return true;
        Reply.Error(error);
        return false;
    }

    public void SyntaxError() => Reply.Error("syntax error");
    public void WrongType() => Reply.Error("-WRONGTYPE Operation against a key holding the wrong kind of value");

    public bool InMulti => (Flags & ClientFlags.Multi) != 0;

    /// <summary>Selects database <paramref name="index"/>; false when out of range.</summary>
    public bool Select(long index)
    {
        if (index < 0 || index >= Server.Databases.Length) return false;
        DbIndex = (int)index;
        Db = Server.Databases[index];
        return true;
    }
}

public sealed partial class Client
{
    /// <summary>Commands queued between MULTI and EXEC.</summary>
    public List<(Command Cmd, byte[][] Argv)>? MultiQueue;
}

public sealed partial class Client
{
    // Pub/Sub subscription counts (maintained by the pub/sub subsystem).
    public int SubscribedChannels, SubscribedPatterns, SubscribedShardChannels;
}
