using Xunit;

namespace Redoubt.Server.Tests.Support;

/// <summary>Test classes whose timing-sensitive checks must not share the machine with the rest of the suite.</summary>
[CollectionDefinition("Serial", DisableParallelization = true)]
public sealed class SerialCollection { }
