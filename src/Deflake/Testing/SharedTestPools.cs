using System.Collections.Concurrent;

namespace Deflake.Testing;

/// <summary>
/// Pools kept once per process and key (a fixture type), for frameworks without an assembly-wide fixture that is set
/// up before and torn down after every test (xUnit v2; NUnit and MSTest when their per-test hooks start the pool): the
/// first test that asks starts them, and they are disposed when the process exits, dropping every database they made.
/// </summary>
public static class SharedTestPools
{
    private static readonly ConcurrentDictionary<Type, Lazy<Task<TestPools>>> Pools = new();
    private static readonly ConcurrentDictionary<Type, object> Fixtures = new();
    private static int _exitHooked;

    /// <summary>How long the process-exit disposal waits for the pools to drop their databases.</summary>
    public static TimeSpan DisposeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The pools of <paramref name="key"/>, started by the first caller with its engine and options.</summary>
    public static ValueTask<TestPools> GetAsync(Type key, Func<IDatabaseEngine> createEngine, Func<TestDatabaseOptions> createOptions, Action<string>? diagnostic)
    {
        ArgumentNullException.ThrowIfNull(key);
        var lazy = Pools.GetOrAdd(key, _ => new Lazy<Task<TestPools>>(() => TestPools.StartAsync(createEngine, createOptions, diagnostic), LazyThreadSafetyMode.ExecutionAndPublication));
        if (Interlocked.Exchange(ref _exitHooked, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => DisposeAllAsync().AsTask().Wait(DisposeTimeout);
        }

        return new ValueTask<TestPools>(lazy.Value);
    }

    /// <summary>
    /// The one instance of the fixture type <paramref name="type"/> of this process (made with its parameterless
    /// constructor), for attributes that name a fixture type.
    /// </summary>
    /// <param name="type">The fixture type.</param>
    /// <param name="user">Who asks, for the error message (such as <c>[DeflakeDatabase]</c>).</param>
    /// <exception cref="DeflakeConfigurationException">The type is not a <typeparamref name="T"/> with a parameterless constructor.</exception>
    public static T Fixture<T>(Type type, string user)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(type);
        return (T)Fixtures.GetOrAdd(type, t =>
        {
            if (!typeof(T).IsAssignableFrom(t) || t.IsAbstract || t.GetConstructor(Type.EmptyTypes) is null)
            {
                throw new DeflakeConfigurationException(user,
                    $"names {t.FullName}, which is not a non-abstract {typeof(T).FullName} with a parameterless constructor; derive your database class from {typeof(T).FullName}.");
            }

            return Activator.CreateInstance(t)!;
        });
    }

    /// <summary>Disposes every pool started so far (the process-exit hook calls it).</summary>
    public static async ValueTask DisposeAllAsync()
    {
        foreach (var key in Pools.Keys.ToArray())
        {
            if (Pools.TryRemove(key, out var lazy) && lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully)
            {
                await lazy.Value.Result.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
