using Redoubt.Server.Config;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>The config registry, the redis.conf loader, the command line and CONFIG REWRITE's merge, in process.</summary>
public sealed class ConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("redoubt-config-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static ServerConfig Load(string text)
    {
        var config = new ServerConfig();
        new ConfigLoader(config).LoadString(text);
        return config;
    }

    private static ConfigFileException LoadFails(string text)
        => Assert.Throws<ConfigFileException>(() => Load(text));

    private static string Get(ServerConfig c, string name) => c.Find(name)!.Get();

    // ---- registry --------------------------------------------------------------

    [Theory]
    [InlineData("maxmemory", "0")]
    [InlineData("save", "3600 1 300 100 60 10000")]
    [InlineData("bind", "* -::*")]
    [InlineData("client-query-buffer-limit", "1073741824")]
    [InlineData("proto-max-bulk-len", "536870912")]
    [InlineData("list-max-ziplist-size", "-2")]
    [InlineData("unixsocketperm", "0")]
    [InlineData("shutdown-on-sigterm", "default")]
    [InlineData("oom-score-adj-values", "0 200 800")]
    [InlineData("proc-title-template", "{title} {listen-addr} {server-mode}")]
    [InlineData("lua-time-limit", "5000")]
    [InlineData("active-defrag-ignore-bytes", "104857600")]
    [InlineData("tls-session-cache-size", "20480")]
    [InlineData("notify-keyspace-events", "")]
    [InlineData("replicaof", "")]
    public void DefaultsAreRedisDefaults(string name, string expected)
        => Assert.Equal(expected, Get(new ServerConfig(), name));

    [Fact]
    public void AliasesShareOneValue()
    {
        var c = Load("slave-read-only no\nhash-max-ziplist-entries 7\nslaveof 10.0.0.1 6380\n");
        Assert.Same(c.Find("replica-read-only"), c.Find("slave-read-only"));
        Assert.Equal("no", Get(c, "replica-read-only"));
        Assert.Equal("7", Get(c, "hash-max-listpack-entries"));
        Assert.Equal("10.0.0.1 6380", Get(c, "replicaof"));
        Assert.Equal("10.0.0.1", c.MasterHost);
        c.Find("SLAVE-READ-ONLY", out string registered);
        Assert.Equal("slave-read-only", registered);
        Assert.Contains(c.RegisteredNames, r => r.Name == "slaveof");
    }

    [Fact]
    public void EveryNameIsRegisteredOnce()
    {
        var names = new ServerConfig().RegisteredNames.Select(r => r.Name).ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.True(names.Count >= 180, $"only {names.Count} names");
    }

    [Theory]
    [InlineData("maxmemory", "5k", "5000")]
    [InlineData("maxmemory", "5KB", "5120")]
    [InlineData("maxmemory", "1gb", "1073741824")]
    [InlineData("maxmemory", "", "0")]
    [InlineData("maxmemory", "99999999999999999999", "18446744073709551615")]
    [InlineData("maxmemory-clients", "5%", "5%")]
    [InlineData("maxmemory-clients", "10mb", "10485760")]
    [InlineData("unixsocketperm", "700", "700")]
    [InlineData("list-max-listpack-size", "-5", "-5")]
    [InlineData("oom-score-adj", "relative", "yes")]
    [InlineData("shutdown-on-sigint", "force NOW nosave", "nosave now force")]
    [InlineData("loglevel", "WARNING", "warning")]
    [InlineData("notify-keyspace-events", "KEA", "AKE")]
    [InlineData("notify-keyspace-events", "Ad", "A")]
    [InlineData("notify-keyspace-events", "x$", "$x")]
    [InlineData("hz", "0", "1")]
    [InlineData("hz", "100000", "500")]
    [InlineData("replicaof", "no one", "")]
    public void ValuesAreParsedAndShownLikeRedis(string name, string value, string shown)
    {
        var c = new ServerConfig();
        var e = c.Find(name)!;
        string[] args = e.IsMultiArg ? Commands.ConfigCommands.SplitOnSpaces(value) : [value];
        Assert.Null(e.Set(args));
        Assert.Equal(shown, e.Get());
    }

    [Theory]
    [InlineData("maxmemory", "-1", "argument must be a memory value")]
    [InlineData("maxmemory", "1.5", "argument must be a memory value")]
    [InlineData("timeout", "007", "argument couldn't be parsed into an integer")]
    [InlineData("timeout", "+5", "argument couldn't be parsed into an integer")]
    [InlineData("timeout", "-5", "argument must be between 0 and 2147483647 inclusive")]
    [InlineData("maxclients", "0", "argument must be between 1 and 4294967295 inclusive")]
    [InlineData("maxclients", "-1", "argument must be between 1 and 4294967295 inclusive")]
    [InlineData("maxmemory-clients", "200%", "percentage argument must be less or equal to 100")]
    [InlineData("maxmemory-clients", "-5", "argument must be a memory or percent value")]
    [InlineData("unixsocketperm", "1000", "argument must be between 0 and 777 inclusive")]
    [InlineData("unixsocketperm", "8", "argument couldn't be parsed as an octal number")]
    [InlineData("hll-sparse-max-bytes", "99999999999999999999", "argument must be between 0 and 9223372036854775807 inclusive")]
    [InlineData("loglevel", "nothing", "argument(s) must be one of the following: debug, verbose, notice, warning")]
    [InlineData("appendonly", "maybe", "argument must be 'yes' or 'no'")]
    [InlineData("shutdown-on-sigint", "save nosave", "shutdown options SAVE and NOSAVE can't be used simultaneously")]
    [InlineData("shutdown-on-sigint", "", "argument(s) must be one of the following: default, save, nosave, now, force")]
    [InlineData("notify-keyspace-events", "Q", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")]
    [InlineData("save", "1 2 3", "Invalid save parameters")]
    [InlineData("save", "0 1", "Invalid save parameters")]
    [InlineData("dbfilename", "a/b", "dbfilename can't be a path, just a filename")]
    [InlineData("appendfilename", "", "appendfilename can't be empty")]
    [InlineData("proc-title-template", "{nope}", "template format is invalid or contains unknown variables")]
    [InlineData("cluster-announce-hostname", "a_b", "Hostnames may only contain alphanumeric characters, hyphens or dots")]
    [InlineData("oom-score-adj-values", "1 2", "wrong number of arguments")]
    [InlineData("oom-score-adj-values", "1 2 3000", "Invalid oom-score-adj-values, elements must be between -2000 and 2000.")]
    [InlineData("replicaof", "host abc", "Invalid master port")]
    [InlineData("bind", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", "Too many bind addresses specified.")]
    [InlineData("dir", "/nonexistent/dir", "No such file or directory")]
    public void BadValuesGiveRedisErrors(string name, string value, string error)
    {
        var e = new ServerConfig().Find(name)!;
        string before = e.Get();
        string[] args = e.IsMultiArg ? Commands.ConfigCommands.SplitOnSpaces(value) : [value];
        Assert.Equal(error, e.Set(args));
        if (name != "replicaof") Assert.Equal(before, e.Get());
    }

    [Fact]
    public void FlagsMatchRedis()
    {
        var c = new ServerConfig();
        Assert.True(c.Find("daemonize")!.IsImmutable);
        Assert.False(c.Find("port")!.IsImmutable);
        Assert.True(c.Find("replicaof")!.IsImmutable);
        Assert.True(c.Find("requirepass")!.IsSensitive);
        Assert.True(c.Find("masterauth")!.IsSensitive);
        Assert.True(c.Find("key-load-delay")!.IsHidden);
        Assert.True((c.Find("dir")!.Flags & ConfigFlags.Protected) != 0);
        Assert.True((c.Find("dbfilename")!.Flags & ConfigFlags.Protected) != 0);
        Assert.True((c.Find("appendonly")!.Flags & ConfigFlags.DenyLoading) != 0);
        Assert.True(c.Find("save")!.IsMultiArg);
    }

    [Fact]
    public void MemoryFormatUsesLargestExactUnit()
    {
        Assert.Equal("1gb", MemoryUnits.Format(1L << 30));
        Assert.Equal("3mb", MemoryUnits.Format(3L << 20));
        Assert.Equal("5kb", MemoryUnits.Format(5120));
        Assert.Equal("1000", MemoryUnits.Format(1000));
        Assert.Equal("0", MemoryUnits.Format(0));
        Assert.Equal("-1", MemoryUnits.Format(-1));
    }

    [Fact]
    public void ReprQuotesLikeSdscatrepr()
    {
        Assert.Equal("\"dump.rdb\"", ConfigEntry.Repr("dump.rdb"));
        Assert.Equal("\"a\\\\b \\\"c\\\"\\n\\x01\\xe9\"", ConfigEntry.Repr("a\\b \"c\"\n\u0001\u00e9"));
        Assert.Equal("\"\"", ConfigEntry.Repr(""));
    }

    // ---- loader ---------------------------------------------------------------

    [Fact]
    public void LoaderHandlesCommentsQuotingUnitsAndCase()
    {
        var c = Load("# comment\n\n   MaxMemory 10mb   \r\nlogfile \"\"\nrequirepass \"a b\\x41\"\nmasterauth 'it\\'s'\nappendonly YES\n");
        Assert.Equal(10L << 20, c.MaxMemory);
        Assert.Equal("a bA", c.RequirePass);
        Assert.Equal("it's", c.MasterAuth);
        Assert.True(c.AppendOnly);
    }

    [Fact]
    public void RepeatedDirectivesLastWinsAndSaveAccumulates()
    {
        var c = Load("maxmemory-samples 3\nmaxmemory-samples 9\nsave 900 1\nsave 300 10\n");
        Assert.Equal(9, c.MaxMemorySamples);
        Assert.Equal("900 1 300 10", Get(c, "save"));
        Assert.Equal("", Get(Load("save 900 1\nsave \"\"\n"), "save"));
        Assert.Equal("100 100", Get(Load("save \"\"\nsave 100 100\n"), "save"));
        // One argument holding several values is split again, as "--save '900 1 300 10'" needs.
        Assert.Equal("900 1 300 10", Get(Load("save \"900 1 300 10\"\n"), "save"));
    }

    [Theory]
    [InlineData("port 1 2", 1, "port 1 2", "wrong number of arguments")]
    [InlineData("port", 1, "port", "wrong number of arguments")]
    [InlineData("nosuchthing yes", 1, "nosuchthing yes", "Bad directive or wrong number of arguments")]
    [InlineData("rename-command a", 1, "rename-command a", "Bad directive or wrong number of arguments")]
    [InlineData("# c\n\nport \"abc", 3, "port \"abc", "Unbalanced quotes in configuration line")]
    [InlineData("\nloglevel loud", 2, "loglevel loud", "argument(s) must be one of the following: debug, verbose, notice, warning")]
    [InlineData("foo.bar", 1, "foo.bar", "Module config specified without value")]
    [InlineData("sentinel monitor m 1.2.3.4 5 2", 1, "sentinel monitor m 1.2.3.4 5 2", "sentinel directive while not in sentinel mode")]
    public void LoaderErrorsCarryLineAndReason(string text, int line, string shown, string reason)
    {
        var e = LoadFails(text);
        Assert.Equal(line, e.LineNumber);
        Assert.Equal(shown, e.Line);
        Assert.Equal(reason, e.Reason);
        Assert.Equal($"\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {line}\n>>> '{shown}'\n{reason}\n", e.FatalBlock());
    }

    [Fact]
    public void DeprecatedAndFileOnlyDirectivesAreAccepted()
    {
        var config = new ServerConfig();
        var loader = new ConfigLoader(config);
        loader.LoadString("list-max-ziplist-entries 512\nlua-replicate-commands yes\nrename-command flushdb \"\"\nuser bob on >pw\nloadmodule /x.so a b\nmod.opt 1 2\nsentinel\n");
        Assert.Equal(("flushdb", "", 3), (loader.Renames[0].From, loader.Renames[0].To, loader.Renames[0].Line));
        Assert.Equal(["bob", "on", ">pw"], loader.Users[0]);
        Assert.Equal(["/x.so", "a", "b"], loader.Modules[0]);
        Assert.Equal("1 2", loader.ModuleConfigs["mod.opt"]);
    }

    [Fact]
    public void ClusterAndReplicaofConflictIsFatal()
    {
        var e = LoadFails("cluster-enabled yes\nreplicaof 1.2.3.4 5\n");
        Assert.Null(e.Line);
        Assert.Equal("replicaof directive not allowed in cluster mode", e.Reason);
    }

    [Fact]
    public void UnwritableLogFileIsFatal()
    {
        var e = LoadFails("logfile /nonexistent-dir/x.log\n");
        Assert.Equal("Can't open the log file: No such file or directory", e.Reason);
    }

    [Fact]
    public void IncludeReadsFilesRelativeToTheWorkingDirectoryAndNests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "conf.d"));
        File.WriteAllText(Path.Combine(_dir, "conf.d", "a.conf"), "maxmemory-samples 4\ninclude conf.d/nested.inc\n");
        File.WriteAllText(Path.Combine(_dir, "conf.d", "b.conf"), "maxmemory-samples 6\n");
        File.WriteAllText(Path.Combine(_dir, "conf.d", "nested.inc"), "timeout 33\n");
        string saved = Environment.CurrentDirectory;
        try
        {
            Environment.CurrentDirectory = _dir;
            var c = Load("include conf.d/a.conf\n");
            Assert.Equal(4, c.MaxMemorySamples);
            Assert.Equal(33, c.Timeout);
            // A pattern reads every match in order; one that matches nothing is fine.
            c = Load($"include {_dir}/conf.d/*.conf\ninclude {_dir}/empty.d/*.conf\n");
            Assert.Equal(6, c.MaxMemorySamples);
        }
        finally { Environment.CurrentDirectory = saved; }
    }

    [Fact]
    public void MissingIncludeIsReportedAsALogLine()
    {
        var e = LoadFails("include /nonexistent/x.conf\n");
        Assert.True(e.IsLogLine);
        Assert.Equal("Fatal error, can't open config file '/nonexistent/x.conf': No such file or directory", e.Reason);
    }

    [Fact]
    public void ErrorInsideAnIncludedFileNamesItsOwnLine()
    {
        string inc = Path.Combine(_dir, "inc.conf");
        File.WriteAllText(inc, "# first\nbogus 1\n");
        var e = LoadFails($"port 1\ninclude {inc}\n");
        Assert.Equal(2, e.LineNumber);
        Assert.Equal("bogus 1", e.Line);
    }

    // ---- command line ---------------------------------------------------------

    [Fact]
    public void CommandLineBuildsDirectiveLinesLikeRedisServer()
    {
        var (file, stdin, options) = ServerMain.ParseCommandLine(["/etc/r.conf", "--port", "6380", "--save", "", "--loglevel", "verbose"]);
        Assert.Equal("/etc/r.conf", file);
        Assert.False(stdin);
        Assert.Equal("port \"6380\" \nsave \"\" \nloglevel \"verbose\" ", options);

        Assert.Equal("port \"6379\" \"6380\" ", ServerMain.ParseCommandLine(["--port", "6379", "6380"]).Options);
        Assert.Equal("port \"--loglevel\" \"verbose\" ", ServerMain.ParseCommandLine(["--port", "--loglevel", "verbose"]).Options);
        Assert.Equal("save \"\"\nloglevel \"verbose\" ", ServerMain.ParseCommandLine(["--save", "--loglevel", "verbose"]).Options);
        Assert.Equal("loglevel \"verbose\" \nsave \"\"", ServerMain.ParseCommandLine(["--loglevel", "verbose", "--save"]).Options);
        Assert.Equal("maxmemory 700mb \nmaxmemory-policy \"volatile-lru\" ", ServerMain.ParseCommandLine(["--maxmemory 700mb", "--maxmemory-policy", "volatile-lru"]).Options);
        Assert.True(ServerMain.ParseCommandLine(["-", "--port", "1"]).FromStdin);
        Assert.True(ServerMain.ParseCommandLine(["r.conf", "--port", "1", "-"]).FromStdin);
        Assert.Equal("port \"-\" \"1\" ", ServerMain.ParseCommandLine(["r.conf", "--port", "-", "1"]).Options);
    }

    [Fact]
    public void CommandLineOptionsContinueTheFileLineNumbers()
    {
        string file = "port 1\nsave 900 1\n";
        var (_, _, options) = ServerMain.ParseCommandLine(["x.conf", "--maxmemory", "1", "2"]);
        var e = LoadFails(file + "\n" + options);
        Assert.Equal(4, e.LineNumber);
        Assert.Equal("maxmemory \"1\" \"2\"", e.Line);

        // Without a file the options start on line 2, after the empty file.
        e = LoadFails("\n" + ServerMain.ParseCommandLine(["--port", "--bla"]).Options);
        Assert.Equal(2, e.LineNumber);
        Assert.Equal("argument couldn't be parsed into an integer", e.Reason);

        var c = Load("save 900 1\n" + "\n" + ServerMain.ParseCommandLine(["--save", "100", "100"]).Options);
        Assert.Equal("900 1 100 100", Get(c, "save"));
        c = Load("save 900 1\n" + "\n" + ServerMain.ParseCommandLine(["--save", ""]).Options);
        Assert.Equal("", Get(c, "save"));
    }

    // ---- CONFIG REWRITE merge --------------------------------------------------

    private static string Rewrite(ServerConfig c, string? oldText)
    {
        var state = new ConfigRewriter(oldText, c);
        foreach (var e in c.Entries) e.Rewrite(state);
        state.RemoveOrphaned();
        return state.Content();
    }

    [Fact]
    public void RewriteKeepsCommentsReplacesInPlaceAndAppendsAfterSignature()
    {
        string old = "# top comment\nmaxmemory 1mb\n\n\n# keep me\nslave-read-only no\nmaxmemory-samples 3\nmaxmemory-samples 4\nunknown-directive 1\ntimeout 0\n";
        var c = Load(old.Replace("unknown-directive 1\n", ""));
        c.Find("maxmemory")!.Set(["2mb"]);
        c.Find("replica-read-only")!.Set(["yes"]);
        c.Find("maxmemory-samples")!.Set(["5"]);
        c.Find("maxmemory-policy")!.Set(["allkeys-lru"]);
        c.Find("requirepass")!.Set(["p w"]);
        string text = Rewrite(c, old);
        var lines = text.Split('\n');
        Assert.Equal("# top comment", lines[0]);
        Assert.Equal("maxmemory 2mb", lines[1]);
        Assert.Equal("", lines[2]);
        Assert.Equal("# keep me", lines[3]);
        Assert.Equal("replica-read-only yes", lines[4]);   // the alias line is reused under the real name
        Assert.Equal("maxmemory-samples 5", lines[5]);     // default now, but the line was there
        Assert.Equal("", lines[6]);                          // the duplicate is blanked
        Assert.Equal("# ??? unknown-directive 1", lines[7]);
        Assert.Equal("timeout 0", lines[8]);
        int sig = Array.IndexOf(lines, ConfigRewriter.Signature);
        Assert.True(sig > 8);
        var appended = lines[(sig + 1)..];
        Assert.Contains("maxmemory-policy allkeys-lru", appended);
        Assert.Contains("requirepass \"p w\"", appended);
        Assert.Contains("save 3600 1", appended);
        Assert.Contains(appended, l => l.StartsWith("dir \"", StringComparison.Ordinal));
        Assert.DoesNotContain(appended, l => l.StartsWith("hz", StringComparison.Ordinal));

        // Rewriting again changes nothing but the file's final empty line, and adds no second signature.
        string again = Rewrite(c, text);
        Assert.Equal(text.TrimEnd('\n'), again.TrimEnd('\n'));
        Assert.Equal(again, Rewrite(c, again));
        Assert.Single(again.Split('\n'), l => l == ConfigRewriter.Signature);
    }

    [Fact]
    public void RewriteRemovesLinesOfUnsetStringsAndWritesEmptySave()
    {
        var c = Load("pidfile /tmp/x.pid\nsave \"\"\nbind 127.0.0.1\n");
        c.Find("bind")!.Set(["*", "-::*"]);
        c.PidFile = "";
        string text = Rewrite(c, "pidfile /tmp/x.pid\nsave 1 1\nsave 2 2\nbind 127.0.0.1\nnotify-keyspace-events Ex\n");
        Assert.DoesNotContain("pidfile", text);
        Assert.DoesNotContain("bind", text);
        Assert.Contains("save \"\"\n", text);
        Assert.Contains("notify-keyspace-events \"\"\n", text);
    }

    [Fact]
    public void ForceAllRewriteLoadsBackToTheSameValues()
    {
        string path = Path.Combine(_dir, "all.conf");
        File.WriteAllText(path, "# header\nmaxmemory 1mb\n");
        var c = Load("maxmemory 1mb\n");
        c.ConfigFile = path;
        foreach (var (name, value) in new[]
        {
            ("maxmemory-clients", "7%"), ("requirepass", "a \"b\"\\c"), ("shutdown-on-sigterm", "nosave now"),
            ("notify-keyspace-events", "Kx"), ("oom-score-adj-values", "1 2 3"), ("save", "10 1 20 2"),
            ("hash-max-listpack-value", "3kb"), ("unixsocketperm", "750"), ("list-max-listpack-size", "-3"),
        })
        {
            var e = c.Find(name)!;
            Assert.Null(e.Set(e.IsMultiArg ? Commands.ConfigCommands.SplitOnSpaces(value) : [value]));
        }
        Assert.Null(c.Rewrite(forceAll: true));
        string text = File.ReadAllText(path);
        Assert.StartsWith("# header\nmaxmemory 1mb\n", text);
        Assert.Contains("hz 10\n", text);

        var reloaded = new ServerConfig();
        new ConfigLoader(reloaded).LoadFile(path);
        foreach (var e in c.Entries) Assert.Equal(e.Get(), reloaded.Find(e.Name)!.Get());
    }

    [Fact]
    public void RewriteReportsWhyTheFileCannotBeWritten()
    {
        var c = new ServerConfig { ConfigFile = Path.Combine(_dir, "no-such-dir", "r.conf") };
        Assert.Equal("No such file or directory", c.Rewrite());
    }

    // ---- server wiring --------------------------------------------------------

    [Fact]
    public void NotifyKeyspaceEventsDrivesTheServerFlags()
    {
        var config = Load("notify-keyspace-events Kx\n");
        var server = new RedisServer(config);
        Assert.Equal(KeyspaceEventClass.Keyspace | KeyspaceEventClass.Expired, server.NotifyFlags);
        Assert.Null(config.Find("notify-keyspace-events")!.Set(["EA"]));
        Assert.Equal(KeyspaceEventClass.Keyevent | KeyspaceEventClass.All, server.NotifyFlags);
    }

    [Fact]
    public void ResetStatsClearsCountersAndRunsHooks()
    {
        var server = new RedisServer(new ServerConfig());
        server.Stats.TotalCommandsProcessed = 5;
        server.Stats.CountError("ERR x");
        var get = server.Commands.FindByFullName("get")!;
        get.Calls = 3;
        get.FailedCalls = 1;
        bool hookRan = false;
        server.ResetStatHooks.Add(() => hookRan = true);
        server.ResetStats();
        Assert.Equal(0, server.Stats.TotalCommandsProcessed);
        Assert.Empty(server.Stats.ErrorCounts);
        Assert.Equal(0, get.Calls);
        Assert.Equal(0, get.FailedCalls);
        Assert.True(hookRan);
    }
}
