using Redoubt.Server.Persistence;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// The BGSAVE file renames itself on the writer thread; a cancel under the server lock may come at any
/// moment. Whichever comes first wins, and neither leaves a half-written target nor deletes a finished one.
/// </summary>
public sealed class SnapshotFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("redoubt-snapfile").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (SnapshotFile File, string Temp, string Final) NewFile()
    {
        string temp = Path.Combine(_dir, "temp-1.rdb"), final = Path.Combine(_dir, "dump.rdb");
        var f = SnapshotFile.Create(temp, final, commitOnFinish: true);
        f.Stream.Write("REDIS0010"u8);
        return (f, temp, final);
    }

    [Fact]
    public void FinishRenamesOverTheTargetAndALaterDiscardKeepsIt()
    {
        File.WriteAllText(Path.Combine(_dir, "dump.rdb"), "old");
        var (f, temp, final) = NewFile();
        f.Finish();
        Assert.False(File.Exists(temp));
        Assert.Equal("REDIS0010", File.ReadAllText(final));
        Assert.Null(f.Commit());
        f.Discard();
        Assert.Equal("REDIS0010", File.ReadAllText(final));
    }

    [Fact]
    public void ADiscardedFileIsNeverRenamedEvenIfTheWriterFinishesAfter()
    {
        File.WriteAllText(Path.Combine(_dir, "dump.rdb"), "old");
        var (f, temp, final) = NewFile();
        f.Discard();
        Assert.False(File.Exists(temp));
        // A new save reusing the temp name must not be renamed by the old one's late finish.
        File.WriteAllText(temp, "partial");
        Assert.Throws<ObjectDisposedException>(() => f.Finish());
        Assert.NotNull(f.Commit());
        Assert.Equal("old", File.ReadAllText(final));
        Assert.Equal("partial", File.ReadAllText(temp));
    }

    [Fact]
    public void WithoutCommitOnFinishTheCallerRenames()
    {
        string temp = Path.Combine(_dir, "temp-2.rdb"), final = Path.Combine(_dir, "other.rdb");
        var f = SnapshotFile.Create(temp, final);
        f.Stream.Write("x"u8);
        f.Finish();
        Assert.True(File.Exists(temp));
        Assert.False(File.Exists(final));
        Assert.Null(f.Commit());
        Assert.Equal("x", File.ReadAllText(final));
    }
}
