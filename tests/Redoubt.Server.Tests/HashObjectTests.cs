using System.Text;
using Redoubt.Server.Storage;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>The two forms of a hash and the conversion between them.</summary>
public sealed class HashObjectTests
{
    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);

    [Fact]
    public void ConvertingAPackThatRepeatsAFieldKeepsEachFieldOnce()
    {
        // What an unsanitized payload may bring: the loader appends without looking for the field.
        var h = new HashObject(B("h"));
        Assert.False(h.AppendLoaded(B("a"), B("1"), 128, 64));
        Assert.False(h.AppendLoaded(B("b"), B("2"), 128, 64));
        Assert.False(h.AppendLoaded(B("a"), B("3"), 128, 64));
        Assert.Equal(3, h.Count);

        h.ConvertToTable();
        Assert.Equal("hashtable", h.Encoding);
        Assert.Equal(2, h.Count);
        Assert.True(h.TryGet(B("a"), out var a));
        Assert.Equal("3", Encoding.ASCII.GetString(a));
        Assert.True(h.Delete(B("a")));
        Assert.False(h.Exists(B("a")));
        Assert.Equal(1, h.Count);
    }

    [Fact]
    public void AppendingPastTheLimitsConvertsAndReportsARepeatedField()
    {
        var h = new HashObject(B("h"));
        Assert.False(h.AppendLoaded(B("a"), B("1"), 1, 64));
        Assert.False(h.AppendLoaded(B("b"), B("2"), 1, 64));
        Assert.Equal("hashtable", h.Encoding);
        Assert.True(h.AppendLoaded(B("a"), B("3"), 1, 64));
        Assert.Equal(2, h.Count);
    }
}
