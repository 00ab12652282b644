using System.Text;
using Redoubt.Server.Storage;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// The sorted set encodings against a plain model (a sorted list of (score, member)): the skiplist's
/// ranks and spans, both encodings' navigation and range searches, deletions by rank/score/lex, and
/// ZADD's flag rules through <see cref="SortedSetObject.Add"/>.
/// </summary>
public sealed class SkipListTests
{
    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);
    private static string S(ReadOnlySpan<byte> b) => Encoding.Latin1.GetString(b);

    private sealed class Model
    {
        public readonly Dictionary<string, double> Scores = new();

        public List<(double Score, string Member)> Ordered()
        {
            var l = Scores.Select(kv => (kv.Value, kv.Key)).ToList();
            l.Sort((a, b) => a.Value != b.Value ? a.Value.CompareTo(b.Value) : string.CompareOrdinal(a.Key, b.Key));
            return l;
        }
    }

    private static string RandomMember(Random rng)
    {
        // Short members collide often (updates, deletes); some share prefixes to exercise memcmp order.
        int len = rng.Next(0, 4);
        var sb = new StringBuilder();
        for (int i = 0; i < len; i++) sb.Append((char)('a' + rng.Next(6)));
        if (rng.Next(10) == 0) sb.Append('\u00ff');
        return sb.ToString();
    }

    private static double RandomScore(Random rng) => rng.Next(12) switch
    {
        0 => double.NegativeInfinity,
        1 => double.PositiveInfinity,
        2 => rng.NextDouble() * 1e6 - 5e5,
        _ => rng.Next(-5, 6), // many equal scores, so member order decides
    };

    private static void AssertSame(Model model, ZSkipList sl)
    {
        sl.Validate();
        var ordered = model.Ordered();
        Assert.Equal(ordered.Count, sl.Count);
        int i = 0;
        for (int n = sl.First(); n >= 0; n = sl.Next(n), i++)
        {
            Assert.Equal(ordered[i].Member, S(sl.MemberAt(n)));
            Assert.Equal(ordered[i].Score, sl.ScoreAt(n));
            Assert.Equal(i + 1, sl.GetRank(ordered[i].Score, B(ordered[i].Member)));
            Assert.Equal(n, sl.GetByRank(i + 1));
        }
        // Backwards from the tail must see the same sequence.
        i = ordered.Count - 1;
        for (int n = sl.Last(); n >= 0; n = sl.Prev(n), i--) Assert.Equal(ordered[i].Member, S(sl.MemberAt(n)));
        Assert.Equal(-1, i);
    }

    [Fact]
    public void SkipListMatchesModelUnderRandomOperations()
    {
        var rng = new Random(1234);
        var model = new Model();
        var sl = new ZSkipList();
        for (int step = 0; step < 6000; step++)
        {
            string m = RandomMember(rng);
            int op = rng.Next(10);
            if (op < 5)
            {
                double s = RandomScore(rng);
                int node = sl.Find(B(m));
                if (node >= 0) sl.UpdateScore(node, s);
                else sl.Insert(s, B(m));
                model.Scores[m] = s;
            }
            else if (op < 8)
            {
                Assert.Equal(model.Scores.Remove(m), sl.Delete(B(m)));
            }
            else if (op == 8 && sl.Count > 0)
            {
                long a = rng.NextInt64(1, sl.Count + 1), b = rng.NextInt64(a, sl.Count + 1);
                var ordered = model.Ordered();
                for (long r = a; r <= b; r++) model.Scores.Remove(ordered[(int)r - 1].Member);
                Assert.Equal(b - a + 1, sl.DeleteRangeByRank(a, b));
            }
            else if (op == 9)
            {
                double lo = rng.Next(-6, 6), hi = lo + rng.Next(0, 4);
                var range = new ScoreRange(lo, hi, rng.Next(2) == 0, rng.Next(2) == 0);
                var doomed = model.Scores.Where(kv => range.GteMin(kv.Value) && range.LteMax(kv.Value)).Select(kv => kv.Key).ToList();
                foreach (var d in doomed) model.Scores.Remove(d);
                Assert.Equal(doomed.Count, sl.DeleteRangeByScore(range));
            }
            if (step % 200 == 0) AssertSame(model, sl);
        }
        AssertSame(model, sl);
    }

    [Fact]
    public void RanksStayCorrectOnALargeList()
    {
        var rng = new Random(7);
        var sl = new ZSkipList();
        var model = new Model();
        for (int i = 0; i < 20000; i++)
        {
            string m = "m" + i.ToString("D6");
            double s = rng.Next(0, 1000);
            sl.Insert(s, B(m));
            model.Scores[m] = s;
        }
        var ordered = model.Ordered();
        for (int k = 0; k < 2000; k++)
        {
            int r = rng.Next(ordered.Count);
            int node = sl.GetByRank(r + 1);
            Assert.Equal(ordered[r].Member, S(sl.MemberAt(node)));
            Assert.Equal(r + 1, sl.GetRank(ordered[r].Score, B(ordered[r].Member)));
        }
        // Levels stay logarithmic: with p = 1/4, 20000 elements almost never need more than 12 levels.
        Assert.InRange(sl.Level, 4, 16);
        sl.Validate();
    }

    [Fact]
    public void UpdateScoreKeepsTheNodeIndex()
    {
        var sl = new ZSkipList();
        for (int i = 0; i < 100; i++) sl.Insert(i, B("m" + i));
        int node = sl.Find(B("m10"));
        sl.UpdateScore(node, 10.5);   // stays between its neighbours: in place
        Assert.Equal(node, sl.Find(B("m10")));
        sl.UpdateScore(node, 1000);   // moves to the tail: re-threaded
        Assert.Equal(node, sl.Find(B("m10")));
        Assert.Equal(node, sl.Last());
        Assert.Equal(100, sl.GetRank(1000, B("m10")));
        sl.Validate();
    }

    [Fact]
    public void MassDeletionCompactsAndKeepsContents()
    {
        var sl = new ZSkipList();
        for (int i = 0; i < 5000; i++) sl.Insert(i, B("m" + i));
        Assert.Equal(4990, sl.DeleteRangeByRank(11, 5000));
        Assert.True(sl.SlotLimit < 100);
        Assert.Equal(10, sl.Count);
        Assert.Equal(5, sl.GetRank(4, B("m4")));
        sl.Validate();
    }

    [Fact]
    public void LexRangesOnBothEncodings()
    {
        var members = new[] { "", "a", "aa", "ab", "b", "ba", "c", "\u00ff" };
        foreach (bool listpack in new[] { true, false })
        {
            var z = new SortedSetObject(B("k"), listpack);
            foreach (var m in members) z.Add(0, B(m), ZAddFlags.None, ZSetLimits.Default, out _);
            Assert.Equal(listpack ? "listpack" : "skiplist", z.Encoding);
            string Range(string min, string max)
            {
                Assert.True(LexRange.TryParse(B(min), B(max), out var r));
                var got = new List<string>();
                for (int p = z.FirstInLexRange(r); p >= 0 && r.LteMax(z.MemberAt(p)); p = z.Next(p)) got.Add(S(z.MemberAt(p)));
                int last = z.LastInLexRange(r);
                if (got.Count > 0) Assert.Equal(got[^1], S(z.MemberAt(last)));
                else Assert.Equal(-1, last);
                return string.Join(",", got);
            }
            Assert.Equal(",a,aa,ab,b,ba,c,\u00ff", Range("-", "+"));
            Assert.Equal("a,aa,ab", Range("[a", "(b"));
            Assert.Equal("aa,ab,b", Range("(a", "[b"));
            Assert.Equal("", Range("+", "-"));
            Assert.Equal("", Range("-", "-"));
            Assert.Equal("", Range("(a", "(a"));
            Assert.Equal("a", Range("[a", "[a"));
            Assert.Equal(",a", Range("[", "[a"));
            Assert.Equal("c,\u00ff", Range("(ba", "+"));
        }
    }

    [Fact]
    public void ListpackNavigatesBothWaysWithEveryScoreForm()
    {
        var lp = new ZSetListpack();
        var scores = new[] { -1e300, -5.5, -0.0, 0, 1, 127, 128, 1L << 40, 1L << 53, 1e17, double.PositiveInfinity, double.NegativeInfinity, 0.1 };
        var model = new Model();
        int i = 0;
        foreach (var s in scores)
        {
            string m = "member-" + i++ + new string('x', i * 13); // lengths past one varint byte
            lp.Insert(B(m), s);
            // A listpack keeps integral scores as integers, so -0 reads back as 0.
            model.Scores[m] = s == 0 ? 0.0 : s;
        }
        var ordered = model.Ordered();
        Assert.Equal(ordered.Count, lp.Count);
        int k = 0;
        for (int p = lp.First(); p >= 0; p = lp.Next(p), k++)
        {
            var member = lp.EntryAt(p, out double score);
            Assert.Equal(ordered[k].Member, S(member));
            Assert.Equal(ordered[k].Score, score);
            Assert.False(double.IsNegative(score) && score == 0);
            Assert.Equal(p, lp.AtRank(k));
            Assert.Equal(k, lp.RankOf(member));
        }
        k = ordered.Count - 1;
        for (int p = lp.Last(); p >= 0; p = lp.Prev(p), k--) Assert.Equal(ordered[k].Member, S(lp.MemberAt(p)));
        Assert.Equal(-1, k);
        Assert.True(lp.Find(B(ordered[3].Member), out double found) >= 0);
        Assert.Equal(ordered[3].Score, found);
        Assert.Equal(-1, lp.Find(B("absent"), out _));
    }

    [Fact]
    public void ListpackMatchesModelUnderRandomOperations()
    {
        var rng = new Random(99);
        var lp = new ZSetListpack();
        var model = new Model();
        for (int step = 0; step < 4000; step++)
        {
            string m = RandomMember(rng);
            int op = rng.Next(6);
            if (op < 3)
            {
                int pos = lp.Find(B(m), out _);
                if (pos >= 0) lp.DeleteAt(pos);
                double s = rng.Next(-3, 4);
                lp.Insert(B(m), s);
                model.Scores[m] = s;
            }
            else if (op < 5)
            {
                int pos = lp.Find(B(m), out _);
                Assert.Equal(model.Scores.Remove(m), pos >= 0);
                if (pos >= 0) lp.DeleteAt(pos);
            }
            else if (lp.Count > 0)
            {
                long a = rng.NextInt64(lp.Count), b = rng.NextInt64(a, lp.Count);
                var ordered = model.Ordered();
                for (long r = a; r <= b; r++) model.Scores.Remove(ordered[(int)r].Member);
                Assert.Equal(b - a + 1, lp.DeleteRangeByRank(a, b));
            }
            var expect = model.Ordered();
            Assert.Equal(expect.Count, lp.Count);
            int k = 0;
            for (int p = lp.First(); p >= 0; p = lp.Next(p), k++) Assert.Equal(expect[k].Member, S(lp.MemberAt(p)));
        }
    }

    [Fact]
    public void ScoreRangeSearchesAgreeAcrossEncodings()
    {
        var rng = new Random(5);
        var small = new SortedSetObject(B("a"), listpack: true);
        var large = new SortedSetObject(B("b"), listpack: false);
        var limits = new ZSetLimits(1000, 1000);
        for (int i = 0; i < 100; i++)
        {
            double s = rng.Next(-20, 20) / 2.0;
            var m = B("m" + rng.Next(200));
            small.Add(s, m, ZAddFlags.None, limits, out _);
            large.Add(s, m, ZAddFlags.None, limits, out _);
        }
        Assert.True(small.IsListpack);
        Assert.False(large.IsListpack);
        for (int t = 0; t < 500; t++)
        {
            double lo = rng.Next(-25, 25) / 2.0, hi = rng.Next(-25, 25) / 2.0;
            var r = new ScoreRange(lo, hi, rng.Next(2) == 0, rng.Next(2) == 0);
            int a = small.FirstInRange(r), b = large.FirstInRange(r);
            Assert.Equal(a < 0, b < 0);
            if (a >= 0) Assert.Equal(S(small.MemberAt(a)), S(large.MemberAt(b)));
            a = small.LastInRange(r);
            b = large.LastInRange(r);
            Assert.Equal(a < 0, b < 0);
            if (a >= 0) Assert.Equal(S(small.MemberAt(a)), S(large.MemberAt(b)));
            long rank = rng.Next(small.Count);
            Assert.Equal(S(small.MemberAt(small.AtRank(rank, true))), S(large.MemberAt(large.AtRank(rank, true))));
        }
    }

    [Fact]
    public void AddFollowsZaddFlagRules()
    {
        foreach (bool listpack in new[] { true, false })
        {
            var z = new SortedSetObject(B("k"), listpack);
            var lim = ZSetLimits.Default;
            Assert.Equal(ZAddResult.Added, z.Add(5, B("a"), ZAddFlags.None, lim, out _));
            Assert.Equal(ZAddResult.Nop, z.Add(1, B("a"), ZAddFlags.NX, lim, out _));
            Assert.Equal(ZAddResult.Nop, z.Add(1, B("b"), ZAddFlags.XX, lim, out _));
            Assert.Equal(ZAddResult.Nop, z.Add(4, B("a"), ZAddFlags.GT, lim, out _));
            Assert.Equal(ZAddResult.Updated, z.Add(6, B("a"), ZAddFlags.GT, lim, out double ns));
            Assert.Equal(6, ns);
            Assert.Equal(ZAddResult.Nop, z.Add(7, B("a"), ZAddFlags.LT, lim, out _));
            Assert.Equal(ZAddResult.None, z.Add(6, B("a"), ZAddFlags.None, lim, out _)); // same score: processed, not updated
            Assert.Equal(ZAddResult.Updated, z.Add(1.5, B("a"), ZAddFlags.Incr, lim, out ns));
            Assert.Equal(7.5, ns);
            Assert.Equal(ZAddResult.Added, z.Add(2, B("c"), ZAddFlags.Incr | ZAddFlags.GT, lim, out _)); // GT does not stop new members
            z.Add(double.PositiveInfinity, B("inf"), ZAddFlags.None, lim, out _);
            Assert.Equal(ZAddResult.Nan, z.Add(double.NegativeInfinity, B("inf"), ZAddFlags.Incr, lim, out _));
            Assert.True(z.TryGetScore(B("inf"), out double still));
            Assert.Equal(double.PositiveInfinity, still);
            Assert.Equal(0, z.Rank(B("c"), reverse: false));
            Assert.Equal(0, z.Rank(B("inf"), reverse: true));
            Assert.Equal(-1, z.Rank(B("zz"), reverse: false));
        }
    }

    [Fact]
    public void ListpackConvertsPastTheLimits()
    {
        var z = new SortedSetObject(B("k"), listpack: true);
        var lim = new ZSetLimits(3, 5);
        for (int i = 0; i < 3; i++) z.Add(i, B("m" + i), ZAddFlags.None, lim, out _);
        Assert.Equal("listpack", z.Encoding);
        z.Add(9, B("m9"), ZAddFlags.None, lim, out _);
        Assert.Equal("skiplist", z.Encoding);
        Assert.Equal(4, z.Count);

        var w = new SortedSetObject(B("w"), listpack: true);
        w.Add(1, B("12345"), ZAddFlags.None, lim, out _);
        Assert.Equal("listpack", w.Encoding);
        w.Add(1, B("123456"), ZAddFlags.None, lim, out _);
        Assert.Equal("skiplist", w.Encoding);
        // Updating an existing member never converts, and shrinking never converts back.
        Assert.True(w.Remove(B("123456")));
        Assert.Equal("skiplist", w.Encoding);

        var copy = (SortedSetObject)z.Clone(B("copy"));
        Assert.Equal("skiplist", copy.Encoding);
        z.Remove(B("m0"));
        Assert.Equal(4, copy.Count);
        Assert.Equal(3, z.Count);
    }

    [Theory]
    [InlineData("1.5", 1.5, 3)]
    [InlineData(" 12", 12.0, 3)]
    [InlineData("-inf", double.NegativeInfinity, 4)]
    [InlineData("+Infinity", double.PositiveInfinity, 9)]
    [InlineData("0x10", 16.0, 4)]
    [InlineData("0x1.8p1", 3.0, 7)]
    [InlineData("0x", 0.0, 1)]
    [InlineData("1e", 1.0, 1)]
    [InlineData("1e+5x", 1e5, 4)]
    [InlineData(".5", 0.5, 2)]
    [InlineData("1e400", double.PositiveInfinity, 5)]
    [InlineData("", 0.0, 0)]
    [InlineData("-", 0.0, 0)]
    [InlineData("abc", 0.0, 0)]
    public void StrtodConsumesLikeC(string text, double expected, int consumed)
    {
        Assert.Equal(consumed, CStrtod.Parse(B(text), out double v, out _));
        Assert.Equal(expected, v);
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("-2.5e3", true)]
    [InlineData("inf", true)]
    [InlineData("0x10", true)]
    [InlineData("1e-310", true)]  // subnormal: kept
    [InlineData("1e-400", false)] // underflow to zero
    [InlineData("1e400", false)]  // overflow
    [InlineData("nan", false)]
    [InlineData(" 1", false)]
    [InlineData("1 ", false)]
    [InlineData("", false)]
    public void ScoresParseAsString2d(string text, bool ok) => Assert.Equal(ok, CStrtod.TryParseWhole(B(text), out _));

    [Theory]
    [InlineData("(1", "2", true)]
    [InlineData("", "", true)]       // strtod reads "" as 0
    [InlineData("(", "+inf", true)]
    [InlineData(" 1", "2", true)]    // strtod skips leading blanks
    [InlineData("1 ", "2", false)]
    [InlineData("nan", "1", false)]
    [InlineData("1", "(nan", false)]
    [InlineData("abc", "1", false)]
    public void ScoreRangesParseAsRedis(string min, string max, bool ok) => Assert.Equal(ok, ScoreRange.TryParse(B(min), B(max), out _));

    [Theory]
    [InlineData("-", "+", true)]
    [InlineData("[a", "(b", true)]
    [InlineData("[", "(", true)]
    [InlineData("a", "+", false)]
    [InlineData("-a", "+", false)]
    [InlineData("-", "++", false)]
    [InlineData("", "+", false)]
    public void LexRangesParseAsRedis(string min, string max, bool ok) => Assert.Equal(ok, LexRange.TryParse(B(min), B(max), out _));
}
