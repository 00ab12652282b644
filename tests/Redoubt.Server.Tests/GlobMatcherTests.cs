using System.Text;
using Redoubt.Server.Storage;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// GlobMatcher against expectations recorded from redis-server 7.0.15: each pattern was run through
/// KEYS over a database holding <see cref="Keys"/>, and the matching keys are listed. (KEYS treats the
/// pattern "*" as match-all without matching, which is why the empty key is absent from that row.)
/// </summary>
public sealed class GlobMatcherTests
{
    private static readonly string[] Keys =
    [
        "", "a", "b", "ab", "abc", "aXc", "a*c", "a?c", "a[c", "a]c", "a\\c", "a-c", "A", "ABC", "hello", "hallo",
        "hxllo", "heeeello", "x^y", "caret^", "]", "[", "-", "\\", "*", "?", "aaaaaaaaaaaaaaaaaaaaaaaaab", "foo:1",
        "foo:10", "foo:bar", "zzz",
    ];

    public static readonly TheoryData<string, string[]> RedisResults = new()
    {
        { "*", ["*", "-", "?", "A", "ABC", "[", "\\", "]", "a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "aaaaaaaaaaaaaaaaaaaaaaaaab", "ab", "abc", "b", "caret^", "foo:1", "foo:10", "foo:bar", "hallo", "heeeello", "hello", "hxllo", "x^y", "zzz"] },
        { "", [""] },
        { "a", ["a"] },
        { "?", ["*", "-", "?", "A", "[", "\\", "]", "a", "b"] },
        { "??", ["ab"] },
        { "a*", ["a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "aaaaaaaaaaaaaaaaaaaaaaaaab", "ab", "abc"] },
        { "*c", ["a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "abc"] },
        { "a*c", ["a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "abc"] },
        { "a?c", ["a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "abc"] },
        { "[ab]", ["a", "b"] },
        { "[^ab]", ["*", "-", "?", "A", "[", "\\", "]"] },
        { "[a-c]", ["a", "b"] },
        { "[c-a]", ["a", "b"] },
        { "[A-Z]*", ["A", "ABC"] },
        { "a[*]c", ["a*c"] },
        { "a[?]c", ["a?c"] },
        { "a\\*c", ["a*c"] },
        { "a\\?c", ["a?c"] },
        { "a[\\]]c", ["a]c"] },
        { "a[]c", [] },
        { "a[", [] },
        { "a[c", [] },
        { "[", [] },
        { "[]", [] },
        { "[^]", ["*", "-", "?", "A", "[", "\\", "]", "a", "b"] },
        { "a[^X]c", ["a*c", "a-c", "a?c", "a[c", "a\\c", "a]c", "abc"] },
        { "h[ae]llo", ["hallo", "hello"] },
        { "h[^e]llo", ["hallo", "hxllo"] },
        { "h*llo", ["hallo", "heeeello", "hello", "hxllo"] },
        { "h[a-b]llo", ["hallo"] },
        { "*\\", ["\\"] },
        { "\\", ["\\"] },
        { "\\\\", ["\\"] },
        { "a\\", [] },
        { "[\\", ["\\"] },
        { "[a-]", ["]", "a"] },
        { "[-a]", ["-", "a"] },
        { "[!a]", ["a"] },
        { "x^y", ["x^y"] },
        { "*^*", ["caret^", "x^y"] },
        { "]", ["]"] },
        { "-", ["-"] },
        { "foo:*", ["foo:1", "foo:10", "foo:bar"] },
        { "foo:?", ["foo:1"] },
        { "foo:[0-9]*", ["foo:1", "foo:10"] },
        { "foo:[0-9]", ["foo:1"] },
        { "*o*o*", ["foo:1", "foo:10", "foo:bar"] },
        { "a*a*a*a*a*a*a*b", ["aaaaaaaaaaaaaaaaaaaaaaaaab"] },
        { "a*a*a*a*a*a*a*c", [] },
        { "**", ["*", "-", "?", "A", "ABC", "[", "\\", "]", "a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "aaaaaaaaaaaaaaaaaaaaaaaaab", "ab", "abc", "b", "caret^", "foo:1", "foo:10", "foo:bar", "hallo", "heeeello", "hello", "hxllo", "x^y", "zzz"] },
        { "*?*", ["*", "-", "?", "A", "ABC", "[", "\\", "]", "a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "aaaaaaaaaaaaaaaaaaaaaaaaab", "ab", "abc", "b", "caret^", "foo:1", "foo:10", "foo:bar", "hallo", "heeeello", "hello", "hxllo", "x^y", "zzz"] },
        { "?*", ["*", "-", "?", "A", "ABC", "[", "\\", "]", "a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "aaaaaaaaaaaaaaaaaaaaaaaaab", "ab", "abc", "b", "caret^", "foo:1", "foo:10", "foo:bar", "hallo", "heeeello", "hello", "hxllo", "x^y", "zzz"] },
        { "*[", [] },
        { "[a-", ["-", "a"] },
        { "[a-c", ["a", "b"] },
        { "[^", ["*", "-", "?", "A", "[", "\\", "]", "a", "b"] },
        { "a**c", ["a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "abc"] },
        { "\\a", ["a"] },
        { "[\\a]", ["a"] },
        { "[a\\-c]", ["-", "a"] },
        { "[z-a]*", ["a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "aaaaaaaaaaaaaaaaaaaaaaaaab", "ab", "abc", "b", "caret^", "foo:1", "foo:10", "foo:bar", "hallo", "heeeello", "hello", "hxllo", "x^y", "zzz"] },
        { "a[b-]*", ["ab"] },    };

    [Theory]
    [MemberData(nameof(RedisResults))]
    public void MatchesWhatRedisMatches(string pattern, string[] expected)
    {
        var p = Encoding.Latin1.GetBytes(pattern);
        var actual = Keys.Where(k => GlobMatcher.Match(p, Encoding.Latin1.GetBytes(k))).OrderBy(k => k, StringComparer.Ordinal);
        Assert.Equal(expected.OrderBy(k => k, StringComparer.Ordinal), actual);
    }

    [Theory]
    [InlineData("HeLLo", "hello", true, false)]
    [InlineData("h[A-Z]llo", "hello", true, false)]
    [InlineData("h[^E]llo", "hello", false, true)]
    [InlineData("H?LLO", "hello", true, false)]
    [InlineData("hello", "hello", true, true)]
    public void NoCaseFoldsAsciiLetters(string pattern, string text, bool noCase, bool caseSensitive)
    {
        Assert.Equal(noCase, GlobMatcher.Match(pattern, text, noCase: true));
        Assert.Equal(caseSensitive, GlobMatcher.Match(pattern, text, noCase: false));
    }

    [Fact]
    public void HostilePatternsEndQuickly()
    {
        var text = new string('a', 5000);
        var pattern = string.Concat(Enumerable.Repeat("a*", 2000)) + "b";
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(GlobMatcher.Match(pattern, text));
        Assert.True(sw.ElapsedMilliseconds < 2000, $"took {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void BinarySafe()
    {
        byte[] key = [0, 1, 255, (byte)'x'];
        Assert.True(GlobMatcher.Match([0, (byte)'?', 255, (byte)'*'], key));
        Assert.True(GlobMatcher.Match([(byte)'[', 0, (byte)'-', 2, (byte)']', (byte)'*'], key));
        Assert.False(GlobMatcher.Match([1, (byte)'*'], key));
    }
}
