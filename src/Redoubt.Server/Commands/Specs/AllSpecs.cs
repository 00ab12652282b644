// Command metadata for all command families (Redis 7.0 semantics).
namespace Redoubt.Server.Commands.Specs;

internal static class AllSpecs
{
    public static IEnumerable<CommandSpec> Server =>
    [
        .. StringSpecs.All,
        .. GenericSpecs.All,
        .. ListSpecs.All,
        .. HashSpecs.All,
        .. SetSpecs.All,
        .. SortedSetSpecs.All,
        .. StreamSpecs.All,
        .. HyperLogLogSpecs.All,
        .. GeoSpecs.All,
        .. BitmapSpecs.All,
        .. PubSubSpecs.All,
        .. TransactionsSpecs.All,
        .. ConnectionSpecs.All,
        .. ServerSpecs.All,
        .. ScriptingSpecs.All,
        .. ClusterSpecs.All,
    ];
}
