using Redoubt.Server.Storage;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

public sealed class SortServer : IDisposable
{
    public ServerProcess Server { get; } = new();
    public void Dispose() => Server.Dispose();
}

/// <summary>SORT and SORT_RO over sets and sorted sets on the wire: orders, patterns, LIMIT, errors, ACL.</summary>
public sealed class SortCommandTests : IClassFixture<SortServer>
{
    private readonly ServerProcess _server;
    public SortCommandTests(SortServer shared) => _server = shared.Server;

    private RespClient Db(int db)
    {
        var c = _server.Connect();
        Assert.Equal("OK", c.Call("SELECT", db));
        Assert.Equal("OK", c.Call("FLUSHDB"));
        return c;
    }

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    private static string[] Strings(object? reply) => Assert.IsType<object?[]>(reply).Select(o => o?.ToString() ?? "(nil)").ToArray();

    [Fact]
    public void NumericAlphaDescAndLimit()
    {
        using var c = Db(1);
        c.Call("SADD", "s", "3", "1", "2", "10", "-5");
        Assert.Equal(new[] { "-5", "1", "2", "3", "10" }, Strings(c.Call("SORT", "s")));
        Assert.Equal(new[] { "10", "3", "2", "1", "-5" }, Strings(c.Call("SORT", "s", "DESC")));
        Assert.Equal(new[] { "-5", "1", "10", "2", "3" }, Strings(c.Call("SORT", "s", "ALPHA")));
        Assert.Equal(new[] { "1", "2" }, Strings(c.Call("SORT", "s", "LIMIT", "1", "2")));
        Assert.Equal(new[] { "-5", "1" }, Strings(c.Call("SORT", "s", "LIMIT", "-3", "2")));
        Assert.Equal(new[] { "2", "3", "10" }, Strings(c.Call("SORT", "s", "LIMIT", "2", "-1")));
        Assert.Empty(Strings(c.Call("SORT", "s", "LIMIT", "9", "2")));
        Assert.Empty(Strings(c.Call("SORT", "s", "LIMIT", "0", "0")));
        Assert.Empty(Strings(c.Call("SORT", "nokey")));
        Assert.Equal(new[] { "3", "2" }, Strings(c.Call("SORT_RO", "s", "DESC", "LIMIT", "1", "2")));
    }

    [Fact]
    public void ByAndGetPatterns()
    {
        using var c = Db(2);
        c.Call("SADD", "s", "1", "2", "3");
        c.Call("MSET", "w_1", "30", "w_2", "10", "w_3", "20", "name_1", "one", "name_3", "three");
        c.Call("HSET", "h_1", "f", "2");
        c.Call("HSET", "h_2", "f", "3");
        c.Call("HSET", "h_3", "f", "1");
        Assert.Equal(new[] { "2", "3", "1" }, Strings(c.Call("SORT", "s", "BY", "w_*")));
        Assert.Equal(new[] { "3", "1", "2" }, Strings(c.Call("SORT", "s", "BY", "h_*->f")));
        Assert.Equal(new[] { "2", "(nil)", "10", "3", "three", "20", "1", "one", "30" },
            Strings(c.Call("SORT", "s", "BY", "w_*", "GET", "#", "GET", "name_*", "GET", "w_*")));
        Assert.Equal(new[] { "1", "2", "3" }, Strings(c.Call("SORT", "s", "GET", "h_*->f", "BY", "nosort", "DESC", "LIMIT", "0", "3")).Order().ToArray());
        // A GET pattern without '*' names no key; "->" with nothing after it is part of the key name.
        Assert.Equal(new[] { "(nil)", "(nil)", "(nil)" }, Strings(c.Call("SORT", "s", "GET", "constant")));
        c.Call("SET", "k_1->", "arrow");
        Assert.Equal(new[] { "arrow", "(nil)", "(nil)" }, Strings(c.Call("SORT", "s", "GET", "k_*->")));
        // Weights from missing keys are 0; equal weights fall back to the elements' byte order.
        Assert.Equal(new[] { "1", "2", "3" }, Strings(c.Call("SORT", "s", "BY", "missing_*")));
        Assert.Equal(new[] { "3", "2", "1" }, Strings(c.Call("SORT", "s", "BY", "missing_*", "DESC")));
        // ALPHA with BY compares the weights as strings; elements without one come first.
        c.Call("MSET", "a_1", "b", "a_2", "a");
        Assert.Equal(new[] { "3", "2", "1" }, Strings(c.Call("SORT", "s", "BY", "a_*", "ALPHA")));
        Assert.Equal(new[] { "2" }, Strings(c.Call("SORT", "s", "BY", "a_*", "ALPHA", "LIMIT", "1", "1")));
    }

    [Fact]
    public void SortedSetsKeepTheirOrderWithConstantBy()
    {
        using var c = Db(3);
        c.Call("ZADD", "z", "1", "c", "2", "b", "3", "a", "0", "d");
        Assert.Equal(new[] { "d", "c", "b", "a" }, Strings(c.Call("SORT", "z", "BY", "nosort")));
        Assert.Equal(new[] { "a", "b", "c", "d" }, Strings(c.Call("SORT", "z", "BY", "nosort", "DESC")));
        Assert.Equal(new[] { "c", "b" }, Strings(c.Call("SORT", "z", "BY", "nosort", "LIMIT", "1", "2")));
        Assert.Equal(new[] { "b", "c" }, Strings(c.Call("SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "2")));
        Assert.Equal(new[] { "a", "b", "c", "d" }, Strings(c.Call("SORT", "z", "ALPHA")));
        // Sorting reads the set through its skiplist form, which it keeps.
        Assert.Equal("skiplist", c.Call("OBJECT", "ENCODING", "z"));
    }

    [Fact]
    public void ErrorsAreRedis()
    {
        using var c = Db(4);
        c.Call("SADD", "s", "1", "x");
        c.Call("SET", "str", "v");
        c.Call("HSET", "h", "f", "v");
        Assert.Equal("ERR One or more scores can't be converted into double", Err(c.Call("SORT", "s")));
        Assert.Equal(new[] { "1", "x" }, Strings(c.Call("SORT", "s", "ALPHA")));
        Assert.StartsWith("WRONGTYPE", Err(c.Call("SORT", "str")));
        Assert.StartsWith("WRONGTYPE", Err(c.Call("SORT", "h")));
        Assert.Equal("ERR syntax error", Err(c.Call("SORT", "s", "foo")));
        Assert.Equal("ERR syntax error", Err(c.Call("SORT", "s", "LIMIT", "1")));
        Assert.Equal("ERR syntax error", Err(c.Call("SORT", "s", "GET")));
        Assert.Equal("ERR syntax error", Err(c.Call("SORT_RO", "s", "ALPHA", "STORE", "d")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("SORT", "s", "LIMIT", "a", "1")));
        c.Call("SADD", "f", "1.5", "-inf", "0x10", " 3", "");
        Assert.Equal(new[] { "-inf", "", "1.5", " 3", "0x10" }, Strings(c.Call("SORT", "f")));
        c.Call("SADD", "n", "nan");
        Assert.Equal("ERR One or more scores can't be converted into double", Err(c.Call("SORT", "n")));
    }

    [Fact]
    public void StoreWithAnEmptyResultDeletesTheDestination()
    {
        using var c = Db(5);
        c.Call("SET", "d", "x");
        Assert.Equal(0L, c.Call("SORT", "nokey", "STORE", "d"));
        Assert.Equal(0L, c.Call("EXISTS", "d"));
        c.Call("SADD", "s", "1");
        c.Call("SET", "d", "x");
        Assert.Equal(0L, c.Call("SORT", "s", "LIMIT", "5", "1", "STORE", "d"));
        Assert.Equal(0L, c.Call("EXISTS", "d"));
    }

    [Fact]
    public void PatternsNeedReadAccessToEveryKey()
    {
        using var admin = Db(6);
        admin.Call("SADD", "s1", "2", "1");
        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "sortlimited", "on", "nopass", "~s*", "+@all"));
        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "sortreader", "on", "nopass", "%R~*", "~s*", "+@all"));
        using var c = _server.Connect();
        c.Call("AUTH", "sortlimited", "x");
        c.Call("SELECT", "6");
        Assert.Equal(new[] { "1", "2" }, Strings(c.Call("SORT", "s1")));
        Assert.Equal(new[] { "1", "2" }, Strings(c.Call("SORT", "s1", "BY", "nosort")));
        Assert.Equal("ERR BY option of SORT denied due to insufficient ACL permissions.", Err(c.Call("SORT", "s1", "BY", "w_*")));
        Assert.Equal("ERR GET option of SORT denied due to insufficient ACL permissions.", Err(c.Call("SORT", "s1", "GET", "#")));
        Assert.Equal("ERR GET option of SORT denied due to insufficient ACL permissions.", Err(c.Call("SORT_RO", "s1", "GET", "w_*")));
        c.Call("AUTH", "sortreader", "x");
        Assert.Equal(new[] { "1", "2" }, Strings(c.Call("SORT", "s1", "BY", "w_*", "GET", "#")));
    }

    /// <summary>Deterministic SORT forms (integer sets, sorted sets, constant BY) compared with a real redis-server.</summary>
    [Fact]
    public void MatchesRealRedis()
    {
        string[][] script =
        [
            ["SADD", "s", "3", "1", "2", "10", "-5", "7"],
            ["MSET", "w_3", "30", "w_1", "10", "w_2", "20", "w_10", "5", "w_-5", "50", "w_7", "abc"],
            ["HSET", "h_3", "f", "3"], ["HSET", "h_1", "f", "1"], ["HSET", "h_2", "f", "9"], ["HSET", "h_10", "f", "0"],
            ["SORT", "s"], ["SORT", "s", "DESC", "LIMIT", "1", "3"], ["SORT", "s", "ALPHA"], ["SORT", "s", "BY", "nosort"],
            ["SORT", "s", "BY", "w_*"], ["SORT", "s", "BY", "h_*->f", "GET", "#", "GET", "w_*", "GET", "h_*->f"],
            ["SORT", "s", "BY", "h_*->f", "LIMIT", "1", "3", "GET", "#"], ["SORT", "s", "BY", "h_*->f", "ALPHA", "DESC"],
            ["SORT", "s", "BY", "h_*->f", "ALPHA", "LIMIT", "1", "3"], ["SORT", "s", "BY", "w_*", "ALPHA", "LIMIT", "2", "3", "DESC"],
            ["SORT", "s", "LIMIT", "-1", "2"], ["SORT", "s", "LIMIT", "10", "2"], ["SORT", "s", "LIMIT", "1", "-7"],
            ["ZADD", "z", "1", "a", "2", "b", "3", "c", "0", "d", "5", "e", "5", "f"],
            ["SORT", "z", "BY", "nosort"], ["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "2"],
            ["SORT", "z", "BY", "nosort", "LIMIT", "5", "2"], ["SORT", "z", "BY", "nosort", "LIMIT", "-3", "2"],
            ["SORT", "z", "ALPHA", "DESC"], ["SORT", "z", "BY", "nosort", "GET", "#", "GET", "w_*"],
            ["OBJECT", "ENCODING", "z"], ["SORT", "z"],
            ["SADD", "f", "1.5", "1e3", "-inf", "inf", "0x10", " 3", ""], ["SORT", "f"], ["SORT", "f", "DESC", "LIMIT", "2", "2"],
            ["SADD", "big", "1e400"], ["SORT", "big"],
            ["SORT", "nokey"], ["SORT", "nokey", "BY", "nosort", "LIMIT", "0", "1"], ["SORT", "nokey", "STORE", "x"],
            ["SET", "str", "v"], ["SORT", "str"], ["SORT", "s", "BY"], ["SORT", "s", "LIMIT", "1", "x"],
        ];
        using var real = new RealRedisServer();
        using var a = new RawRespConnection(_server.Port);
        using var b = new RawRespConnection(real.Port);
        a.Call(["SELECT", "7"]);
        a.Call(["FLUSHDB"]);
        foreach (var cmd in script) Assert.Equal(b.Call(cmd), a.Call(cmd));
    }
}

/// <summary>
/// SORT's list side seen in process, with a stand-in list type plugged into the server's list hooks
/// (the real list family sets the same hooks): lists as a source, STORE, its event and dirty count.
/// </summary>
public sealed class SortListHookTests
{
    /// <summary>A minimal list value: just its items.</summary>
    private sealed class StandInList(byte[] key, List<byte[]> items) : RedisObject(key)
    {
        public readonly List<byte[]> Items = items;
        public override RedisType Type => RedisType.List;
        public override string Encoding => "quicklist";
        public override RedisObject Clone(byte[] newKey) => new StandInList(newKey, Items.ToList());
        public override long MemoryUsage => 64;
    }

    private readonly InProcessKeyspace _ks = new();
    private readonly Client _c;

    public SortListHookTests()
    {
        _ks.Server.NotifyFlags = KeyspaceEventClass.All | KeyspaceEventClass.Keyevent;
        _ks.Server.ListItems = o => ((StandInList)o).Items;
        _ks.Server.CreateListFromItems = (key, items) => new StandInList(key, items);
        _c = _ks.NewClient();
    }

    private object? Call(params string[] args) => _ks.Call(_c, args);

    private string[] Stored(string key)
    {
        var obj = Assert.IsType<StandInList>(_ks.Server.Databases[0].Peek(System.Text.Encoding.ASCII.GetBytes(key)));
        return obj.Items.Select(b => System.Text.Encoding.Latin1.GetString(b)).ToArray();
    }

    private void AddList(string key, params string[] items)
        => _ks.Server.Databases[0].Add(new StandInList(System.Text.Encoding.ASCII.GetBytes(key), items.Select(System.Text.Encoding.ASCII.GetBytes).ToList()));

    private string Effects(params string[] args)
    {
        _ks.Published.Clear();
        long before = _ks.Server.Stats.Dirty;
        var reply = Call(args);
        Assert.IsNotType<RespError>(reply);
        var events = _ks.Published.Where(p => p.Channel.StartsWith("__keyevent@")).Select(p => p.Channel[(p.Channel.IndexOf(':') + 1)..] + ":" + p.Message);
        return reply + " " + string.Join(" ", events) + " dirty=" + (_ks.Server.Stats.Dirty - before);
    }

    [Fact]
    public void StoreWritesAListWithItsEvent()
    {
        Call("SADD", "s", "3", "1", "2");
        Assert.Equal("3 sortstore:d dirty=3", Effects("SORT", "s", "STORE", "d"));
        Assert.Equal(new[] { "1", "2", "3" }, Stored("d"));
        // GET patterns write one item each; a missing value is stored as an empty string.
        Call("SET", "w_2", "two");
        Assert.Equal("6 sortstore:d dirty=6", Effects("SORT", "s", "DESC", "GET", "#", "GET", "w_*", "STORE", "d"));
        Assert.Equal(new[] { "3", "", "2", "two", "1", "" }, Stored("d"));
        // A set with a constant BY is still sorted when stored, so the list does not depend on its layout.
        Call("SADD", "t", "b", "c", "a");
        Assert.Equal("3 sortstore:d dirty=3", Effects("SORT", "t", "BY", "nosort", "STORE", "d"));
        Assert.Equal(new[] { "a", "b", "c" }, Stored("d"));
        // An empty result deletes the destination.
        Assert.Equal("0 del:d dirty=1", Effects("SORT", "s", "LIMIT", "9", "9", "STORE", "d"));
        Assert.Equal("0  dirty=0", Effects("SORT", "s", "LIMIT", "9", "9", "STORE", "d"));
    }

    [Fact]
    public void ListsAreSortedOrReadInTheirOwnOrder()
    {
        AddList("l", "2", "1", "4", "3", "5");
        Assert.Equal(new object?[] { "1", "2", "3", "4", "5" }, Call("SORT", "l"));
        Assert.Equal(new object?[] { "2", "1", "4", "3", "5" }, Call("SORT", "l", "BY", "nosort"));
        Assert.Equal(new object?[] { "3", "4" }, Call("SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "2"));
        Assert.Equal(new object?[] { "1", "4" }, Call("SORT", "l", "BY", "nosort", "LIMIT", "1", "2"));
        Assert.Equal("5 sortstore:d dirty=5", Effects("SORT", "l", "BY", "nosort", "STORE", "d"));
        Assert.Equal(new[] { "2", "1", "4", "3", "5" }, Stored("d"));
        // Duplicates are kept.
        AddList("dup", "b", "a", "b");
        Assert.Equal(new object?[] { "a", "b", "b" }, Call("SORT", "dup", "ALPHA"));
    }
}
