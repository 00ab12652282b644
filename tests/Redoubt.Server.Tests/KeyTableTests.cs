using System.Text;
using Redoubt.Server.Storage;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>KeyTable, ExpireIndex and Database's whole-key operations, checked against Dictionary models under random operations.</summary>
public sealed class KeyTableTests
{
    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);
    private static byte[] Rec(string key, string value = "v") => StringRecord.Create(B(key), B(value));
    private static string KeyOf(object o) => Encoding.ASCII.GetString(KeyTable.KeyOf(o));

    private static void AssertTableMatches(KeyTable table, Dictionary<string, int> model)
    {
        Assert.Equal(model.Count, table.Count);
        foreach (var (key, slot) in model)
        {
            Assert.Equal(slot, table.Find(B(key)));
            Assert.Equal(key, KeyOf(table.At(slot).Obj!));
        }
        Assert.Equal(model.Values.OrderBy(v => v), table.Slots());
        // Without changes during the scan, every key comes back exactly once.
        var found = new List<object>();
        ulong cursor = 0;
        do cursor = table.ScanBucket(cursor, found); while (cursor != 0);
        Assert.Equal(model.Keys.OrderBy(k => k, StringComparer.Ordinal), found.Select(KeyOf).OrderBy(k => k, StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(11)]
    [InlineData(22)]
    [InlineData(33)]
    public void RandomOperationsAgreeWithDictionary(int seed)
    {
        var rng = new Random(seed);
        var table = new KeyTable(seed);
        var model = new Dictionary<string, int>();
        var keys = new List<string>();
        for (int step = 0; step < 30000; step++)
        {
            int op = rng.Next(100);
            if (op < 50 || model.Count == 0)
            {
                string k = "k" + rng.Next(20000);
                if (model.ContainsKey(k)) Assert.NotEqual(-1, table.Find(B(k)));
                else
                {
                    Assert.Equal(-1, table.Find(B(k)));
                    model[k] = table.Add(Rec(k), 0);
                    keys.Add(k);
                }
            }
            else if (op < 90)
            {
                int i = rng.Next(keys.Count);
                string k = keys[i];
                keys[i] = keys[^1];
                keys.RemoveAt(keys.Count - 1);
                var removed = table.Remove(model[k]);
                Assert.Equal(k, KeyOf(removed));
                model.Remove(k);
            }
            else if (op < 98)
            {
                string k = keys[rng.Next(keys.Count)];
                table.Replace(model[k], Rec(k, "new"));
                Assert.Equal("new", Encoding.ASCII.GetString(StringRecord.Value((byte[])table.At(model[k]).Obj!)));
            }
            else if (table.NeedsCompaction)
            {
                table.Compact((from, to) =>
                {
                    string k = KeyOf(table.At(to).Obj!);
                    Assert.Equal(from, model[k]);
                    model[k] = to;
                });
                Assert.Equal(model.Count, table.SlotLimit);
            }
            if (step % 3000 == 0) AssertTableMatches(table, model);
        }
        AssertTableMatches(table, model);
        // Mass deletion: buckets shrink with the count, compaction releases the slots.
        foreach (var k in keys.Take(keys.Count - 10).ToList())
        {
            table.Remove(model[k]);
            model.Remove(k);
        }
        Assert.True(table.BucketCount <= 16 * 8);
        Assert.True(table.NeedsCompaction);
        table.Compact((from, to) => model[KeyOf(table.At(to).Obj!)] = to);
        Assert.Equal(10, table.SlotLimit);
        AssertTableMatches(table, model);
    }

    [Fact]
    public void RandomSlotIsAlwaysOccupiedAndCoversAllKeys()
    {
        var rng = new Random(5);
        var table = new KeyTable(5);
        Assert.Equal(-1, table.RandomSlot(rng));
        var slots = new List<int>();
        for (int i = 0; i < 5000; i++) slots.Add(table.Add(Rec("r" + i), 0));
        // Leave a sparse table behind (no compaction yet): sampling must still only return live slots.
        for (int i = 0; i < 4990; i++) table.Remove(slots[i]);
        var seen = new HashSet<int>();
        for (int i = 0; i < 2000; i++)
        {
            int s = table.RandomSlot(rng);
            Assert.True(table.IsOccupied(s));
            seen.Add(s);
        }
        Assert.Equal(10, seen.Count);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ExpireIndexAgreesWithDictionary(int seed)
    {
        var rng = new Random(seed);
        var index = new ExpireIndex();
        var model = new Dictionary<int, long>();
        for (int step = 0; step < 50000; step++)
        {
            int slot = rng.Next(4000);
            switch (rng.Next(3))
            {
                case 0:
                case 1:
                    long when = rng.NextInt64();
                    index.Set(slot, when);
                    model[slot] = when;
                    break;
                default:
                    Assert.Equal(model.Remove(slot), index.Remove(slot));
                    break;
            }
            if (step % 5000 == 0 || step == 49999)
            {
                Assert.Equal(model.Count, index.Count);
                for (int s = 0; s < 4000; s++)
                {
                    Assert.Equal(model.TryGetValue(s, out long w), index.TryGet(s, out long got));
                    if (model.ContainsKey(s)) Assert.Equal(w, got);
                }
                // A sweep over every position sees every entry once.
                var swept = new Dictionary<int, long>();
                for (int pos = 0; pos < index.Capacity; pos++)
                    if (index.TryGetAt(pos, out int sl, out long wh)) swept.Add(sl, wh);
                Assert.Equal(model.OrderBy(p => p.Key), swept.OrderBy(p => p.Key));
                if (model.Count > 0)
                {
                    var (ss, sw) = index.Sample(rng);
                    Assert.Equal(model[ss], sw);
                }
            }
        }
        // Removing nearly everything shrinks the index so sampling and sweeping stay cheap.
        foreach (var s in model.Keys.Skip(5).ToList()) index.Remove(s);
        Assert.Equal(5, index.Count);
        Assert.True(index.Capacity <= 64, $"capacity {index.Capacity}");
    }

    private sealed class Hooks : IKeyspaceHooks
    {
        public readonly List<string> Expired = new();
        public bool IsReplica { get; set; }
        public int AccessStamp(int previousMeta) => 7;
        public void OnKeyExpired(Database db, byte[] key) => Expired.Add(Encoding.ASCII.GetString(key));
        public void OnKeyMissOrHit(bool hit) { }
    }

    [Fact]
    public void RenameMoveAndCompactionKeepExpiresWithTheirKeys()
    {
        var hooks = new Hooks();
        var db = new Database(0, hooks);
        var other = new Database(1, hooks);
        long far = Database.NowMs() + 1_000_000;
        var model = new Dictionary<string, long>();
        for (int i = 0; i < 3000; i++)
        {
            int slot = db.Add(Rec("k" + i));
            long when = i % 3 == 0 ? -1 : far + i;
            if (when >= 0) db.SetExpire(slot, when);
            model["k" + i] = when;
        }
        // Delete most keys, rename some survivors, move a few away, then compact.
        for (int i = 0; i < 3000; i++)
            if (i % 10 != 0)
            {
                db.Delete(B("k" + i));
                model.Remove("k" + i);
            }
        foreach (var k in model.Keys.Where(k => k.EndsWith('0') && k.Length % 2 == 0).ToList())
        {
            db.Rename(db.FindLive(B(k)), B("renamed-" + k));
            model["renamed-" + k] = model[k];
            model.Remove(k);
        }
        var moved = model.Keys.Take(20).ToList();
        foreach (var k in moved) db.MoveTo(db.FindLive(B(k)), other);
        db.Maintain();
        Assert.True(db.Table.SlotLimit < 1000);
        foreach (var (k, when) in model)
        {
            var home = moved.Contains(k) ? other : db;
            int slot = home.FindLive(B(k));
            Assert.True(slot >= 0, k);
            Assert.Equal(when, home.GetExpire(slot));
            Assert.Equal(7, home.MetaAt(slot));
        }
        Assert.Equal(model.Count - moved.Count, db.Count);
        Assert.Equal(model.Values.Count(w => w >= 0) - moved.Count(k => model[k] >= 0), db.ExpiresCount);
        Assert.Empty(hooks.Expired);
    }

    private sealed class AllBitsHooks : IKeyspaceHooks
    {
        public bool IsReplica { get; set; }
        // Every bit set: a stamp that leaked outside the LRU field would overwrite the hash tag.
        public int AccessStamp(int previousMeta) => -1;
        public void OnKeyExpired(Database db, byte[] key) { }
        public void OnKeyMissOrHit(bool hit) { }
    }

    [Fact]
    public void KeysStayFoundThroughEveryChangeOfTheirEntrysMetadata()
    {
        // Lookups compare the hash tag kept in each entry's metadata before the key itself: any path
        // that rewrites the metadata (access stamps, SetMetaAt, expires set and removed, moves,
        // compaction) must leave the tag, or the key silently becomes unreachable.
        var db = new Database(0, new AllBitsHooks());
        var other = new Database(1, new AllBitsHooks());
        long far = Database.NowMs() + 1_000_000;
        const int n = 5000;
        for (int i = 0; i < n; i++) db.Add(Rec("key:" + i));
        for (int i = 0; i < n; i++)
        {
            int slot = db.FindForRead(B("key:" + i));
            Assert.True(slot >= 0, "key:" + i);
            db.SetMetaAt(slot, -1);
            if (i % 2 == 0) db.SetExpire(slot, far);
            if (i % 4 == 0) db.RemoveExpire(slot);
        }
        for (int i = 0; i < n; i += 50) db.MoveTo(db.FindLive(B("key:" + i)), other);
        for (int i = 1; i < n; i += 3) if (i % 50 != 0) db.Delete(B("key:" + i));
        db.Maintain();
        for (int i = 0; i < n; i++)
        {
            bool deleted = i % 3 == 1 && i % 50 != 0;
            var home = i % 50 == 0 ? other : db;
            int slot = home.FindLive(B("key:" + i));
            Assert.Equal(!deleted, slot >= 0);
            if (slot < 0) continue;
            Assert.Equal(KeyTable.LruMask, home.MetaAt(slot));
            Assert.Equal(i % 2 == 0 && i % 4 != 0 ? far : -1, home.GetExpire(slot));
        }
    }

    [Fact]
    public void ActiveExpirePassesReclaimEveryExpiredKeyAndNothingElse()
    {
        var hooks = new Hooks();
        var db = new Database(0, hooks);
        long now = Database.NowMs();
        for (int i = 0; i < 5000; i++)
        {
            int slot = db.Add(Rec("k" + i));
            // Every 50th key is already expired; the rest live for long.
            db.SetExpire(slot, i % 50 == 0 ? now - 10 : now + 3_600_000);
        }
        for (int i = 0; i < 100; i++) db.Add(Rec("persistent" + i));
        int passes = 0;
        long ttlSum = 0;
        int ttlSamples = 0;
        while (hooks.Expired.Count < 100)
        {
            db.ActiveExpirePass(20, Database.NowMs(), ref ttlSum, ref ttlSamples);
            Assert.True(++passes < 1000, "the sweep did not reach every key");
        }
        Assert.Equal(100, hooks.Expired.Distinct().Count());
        Assert.All(hooks.Expired, k => Assert.Equal(0, int.Parse(k[1..]) % 50));
        Assert.Equal(5000, db.Count);
        Assert.True(ttlSamples > 0 && ttlSum / ttlSamples > 3_000_000);
    }

    [Fact]
    public void ReplicasNeitherExpireActivelyNorDeleteOnRandomKey()
    {
        var hooks = new Hooks { IsReplica = true };
        var db = new Database(0, hooks);
        int slot = db.Add(Rec("old"));
        db.SetExpire(slot, Database.NowMs() - 1000);
        long sum = 0;
        int n = 0;
        Assert.Equal((0, 0), db.ActiveExpirePass(20, Database.NowMs(), ref sum, ref n));
        // All keys volatile and expired: after its tries RANDOMKEY gives the stale key back rather than loop.
        Assert.Equal(slot, db.RandomLiveSlot(new Random(1)));
        Assert.Equal(1, db.Count);
        Assert.Equal(-1, db.FindLive(B("old")));
        Assert.Empty(hooks.Expired);
    }
}
