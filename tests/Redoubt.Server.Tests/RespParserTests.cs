using System.Text;
using Redoubt.Server.Protocol;
using Xunit;

namespace Redoubt.Server.Tests;

public sealed class RespParserTests
{
    private static (ParseStatus Status, string[] Args, int Consumed, RespParser Parser) Parse(string input, bool authRequired = false)
    {
        var p = new RespParser { AuthRequired = authRequired };
        var buf = Encoding.Latin1.GetBytes(input);
        var status = p.Parse(buf, 0, buf.Length, out int consumed);
        var args = new string[status == ParseStatus.Complete ? p.Count : 0];
        for (int i = 0; i < args.Length; i++)
            args[i] = p.InlineArg(i) is byte[] owned ? Encoding.Latin1.GetString(owned) : Encoding.Latin1.GetString(buf, p.Offset(i), p.Length(i));
        return (status, args, consumed, p);
    }

    [Fact]
    public void ParsesMultibulk()
    {
        var r = Parse("*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n*1\r\n");
        Assert.Equal(ParseStatus.Complete, r.Status);
        Assert.Equal(["GET", "foo"], r.Args);
        Assert.Equal(22, r.Consumed);
    }

    [Fact]
    public void BinarySafeArguments()
    {
        var r = Parse("*1\r\n$4\r\na\r\nb\r\n");
        Assert.Equal(["a\r\nb"], r.Args);
    }

    [Theory]
    [InlineData("*2\r\n$3\r\nGET\r\n$3\r\nfo")]
    [InlineData("*2\r\n$3\r\nGET\r\n$3")]
    [InlineData("*2\r")]
    [InlineData("*2\r\n$3\r\nGET\r\n")]
    public void IncompleteInputWaitsForMore(string input) => Assert.Equal(ParseStatus.Incomplete, Parse(input).Status);

    [Fact]
    public void IncompleteBulkReportsNeededSize()
    {
        var r = Parse("*1\r\n$100\r\nabc");
        Assert.Equal(ParseStatus.Incomplete, r.Status);
        Assert.Equal(4 + 6 + 100 + 2, r.Parser.Needed);
    }

    [Theory]
    [InlineData("*x\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("*3000000000\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("*1\r\n+foo\r\n", "Protocol error: expected '$', got '+'")]
    [InlineData("*1\r\n$-1\r\n", "Protocol error: invalid bulk length")]
    [InlineData("*1\r\n$01\r\n", "Protocol error: invalid bulk length")]
    [InlineData("*1\r\n$600000000\r\n", "Protocol error: invalid bulk length")]
    public void ProtocolErrors(string input, string error)
    {
        var r = Parse(input);
        Assert.Equal(ParseStatus.Error, r.Status);
        Assert.Equal(error, r.Parser.Error);
    }

    [Fact]
    public void UnauthenticatedClientsAreLimited()
    {
        Assert.Equal("Protocol error: unauthenticated multibulk length", Parse("*11\r\n", authRequired: true).Parser.Error);
        Assert.Equal("Protocol error: unauthenticated bulk length", Parse("*1\r\n$16385\r\n", authRequired: true).Parser.Error);
        Assert.Equal(ParseStatus.Incomplete, Parse("*11\r\n", authRequired: false).Status);
    }

    [Fact]
    public void HugeCountsDoNotAllocateUpFront()
    {
        // A claimed 2^31-1 arguments must not reserve memory for them before they arrive.
        var r = Parse("*2147483647\r\n$1\r\na\r\n");
        Assert.Equal(ParseStatus.Incomplete, r.Status);
    }

    [Fact]
    public void TooLongCountLineWithoutNewline()
    {
        Assert.Equal("Protocol error: too big mbulk count string", Parse("*" + new string('1', 70000)).Parser.Error);
        Assert.Equal("Protocol error: too big bulk count string", Parse("*1\r\n$" + new string('1', 70000)).Parser.Error);
    }

    [Fact]
    public void InlineCommands()
    {
        var r = Parse("set  foo \"bar baz\"\r\n");
        Assert.Equal(["set", "foo", "bar baz"], r.Args);
        Assert.Empty(Parse("\r\n").Args);
        Assert.Equal(ParseStatus.Complete, Parse("\n").Status);
        Assert.Equal("Protocol error: unbalanced quotes in request", Parse("set 'a\r\n").Parser.Error);
        Assert.Equal("Protocol error: too big inline request", Parse(new string('x', 70000)).Parser.Error);
    }
}

public sealed class InlineSplitterTests
{
    [Theory]
    [InlineData("a b  c", new[] { "a", "b", "c" })]
    [InlineData("\"a\\x41\\n\" 'it\\'s'", new[] { "aA\n", "it's" })]
    [InlineData("\"\"", new[] { "" })]
    [InlineData("   ", new string[0])]
    public void SplitsLikeRedis(string line, string[] expected)
    {
        Assert.True(InlineSplitter.Split(line, out List<string> args));
        Assert.Equal(expected, args);
    }

    [Theory]
    [InlineData("\"abc")]
    [InlineData("'abc")]
    [InlineData("\"abc\"def")]
    public void RejectsUnbalancedQuotes(string line) => Assert.False(InlineSplitter.Split(line, out List<string> _));
}

public sealed class NumberTests
{
    [Theory]
    [InlineData("0", true, 0L)]
    [InlineData("-1", true, -1L)]
    [InlineData("9223372036854775807", true, long.MaxValue)]
    [InlineData("-9223372036854775808", true, long.MinValue)]
    [InlineData("9223372036854775808", false, 0L)]
    [InlineData("+1", false, 0L)]
    [InlineData("01", false, 0L)]
    [InlineData("-0", false, 0L)]
    [InlineData(" 1", false, 0L)]
    [InlineData("1 ", false, 0L)]
    [InlineData("", false, 0L)]
    [InlineData("-", false, 0L)]
    public void Int64FollowsRedisRules(string s, bool ok, long value)
    {
        Assert.Equal(ok, NumberParser.TryParseInt64(s, out long v));
        if (ok) Assert.Equal(value, v);
    }

    [Theory]
    [InlineData("1.5", true)]
    [InlineData("-inf", true)]
    [InlineData("+inf", true)]
    [InlineData("1e10", true)]
    [InlineData(".5", true)]
    [InlineData("nan", false)]
    [InlineData(" 1", false)]
    [InlineData("1e999", false)]
    [InlineData("abc", false)]
    [InlineData("", false)]
    public void DoubleFollowsStrtodRules(string s, bool ok)
        => Assert.Equal(ok, NumberParser.TryParseDouble(Encoding.ASCII.GetBytes(s), out _));

    [Theory]
    [InlineData(1.0, "1")]
    [InlineData(0.1, "0.10000000000000001")]
    [InlineData(1e20, "1e+20")]
    [InlineData(1e-5, "1.0000000000000001e-05")]
    [InlineData(double.PositiveInfinity, "inf")]
    [InlineData(double.NegativeInfinity, "-inf")]
    [InlineData(-0.0, "-0")]
    [InlineData(1.5e300, "1.5000000000000001e+300")]
    public void FormatsLikePercentG17(double d, string expected) => Assert.Equal(expected, NumberFormat.G17(d));

    // Redis's d2string: what listpack sorted sets store and RDB/AOF scores carry.
    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(-0.0, "-0")]
    [InlineData(3.0, "3")]
    [InlineData(-12345678.0, "-12345678")]
    [InlineData(1.5, "1.5")]
    [InlineData(2.5e18, "2500000000000000000")]
    [InlineData(1e19, "1e+19")]
    [InlineData(double.PositiveInfinity, "inf")]
    [InlineData(double.NegativeInfinity, "-inf")]
    public void FormatsLikeD2String(double d, string expected)
    {
        Assert.Equal(expected, NumberFormat.D2String(d));
        Span<byte> buf = stackalloc byte[NumberFormat.MaxDoubleLength];
        Assert.Equal(expected, Encoding.ASCII.GetString(buf[..NumberFormat.WriteD2String(buf, d)]));
    }
}
