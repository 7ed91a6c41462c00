using Deflake.Coordination;

namespace Deflake.Tests.Coordination;

public sealed class CrossProcessLockTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "deflake-lock-" + Guid.NewGuid().ToString("N"), "x.lock");

    public void Dispose()
    {
        if (Directory.Exists(Path.GetDirectoryName(_path)))
        {
            Directory.Delete(Path.GetDirectoryName(_path)!, recursive: true);
        }
    }

    [Fact]
    public void A_held_lock_cannot_be_taken_again_until_it_is_released()
    {
        using (var first = CrossProcessLock.TryAcquire(_path))
        {
            Assert.NotNull(first);
            Assert.Null(CrossProcessLock.TryAcquire(_path));
            Assert.True(CrossProcessLock.IsHeld(_path));
        }

        Assert.False(CrossProcessLock.IsHeld(_path));
        using var second = CrossProcessLock.TryAcquire(_path);
        Assert.NotNull(second);
    }

    [Fact]
    public async Task Shared_holders_exclude_only_an_exclusive_holder_and_it_excludes_them()
    {
        using (var first = CrossProcessLock.TryAcquireShared(_path))
        using (var second = CrossProcessLock.TryAcquireShared(_path))
        {
            Assert.NotNull(first);
            Assert.NotNull(second);
            Assert.True(CrossProcessLock.IsHeld(_path));
            Assert.Null(CrossProcessLock.TryAcquire(_path));
            Assert.Throws<InvalidOperationException>(() => first.WriteNote("shared"));
        }

        using (var exclusive = CrossProcessLock.TryAcquire(_path))
        {
            Assert.NotNull(exclusive);
            Assert.Null(CrossProcessLock.TryAcquireShared(_path));
            await Assert.ThrowsAsync<TimeoutException>(() => CrossProcessLock.AcquireSharedAsync(_path, TimeSpan.FromMilliseconds(50), TestContext.Current.CancellationToken));
        }

        Assert.False(CrossProcessLock.IsHeld(_path));
    }

    [Fact]
    public void A_lock_created_held_appears_under_its_name_already_held_and_leaves_nothing_else_behind()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        using (var created = CrossProcessLock.TryCreateHeld(_path))
        {
            Assert.NotNull(created);
            Assert.Equal(_path, created.Path);
            Assert.True(CrossProcessLock.IsHeld(_path));
            created.WriteNote("pid=1");
            Assert.Equal([_path], Directory.GetFiles(Path.GetDirectoryName(_path)!));
        }

        Assert.False(CrossProcessLock.IsHeld(_path));
    }

    [Fact]
    public void Creating_a_held_lock_where_one_exists_already_gives_null_and_keeps_the_existing_one()
    {
        using var existing = CrossProcessLock.TryAcquire(_path);
        existing!.WriteNote("first");

        Assert.Null(CrossProcessLock.TryCreateHeld(_path));

        Assert.Equal([_path], Directory.GetFiles(Path.GetDirectoryName(_path)!));
        Assert.True(CrossProcessLock.IsHeld(_path));
    }

    [Fact]
    public async Task Waiting_for_a_held_lock_times_out_with_the_path_in_the_message()
    {
        using var holder = CrossProcessLock.TryAcquire(_path);

        var error = await Assert.ThrowsAsync<TimeoutException>(() => CrossProcessLock.AcquireAsync(_path, TimeSpan.FromMilliseconds(50), TestContext.Current.CancellationToken));

        Assert.Contains(_path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_waiter_gets_the_lock_once_the_holder_releases_it()
    {
        var holder = CrossProcessLock.TryAcquire(_path)!;
        var waiting = CrossProcessLock.AcquireAsync(_path, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.False(waiting.IsCompleted);

        holder.Dispose();

        using var acquired = await waiting;
        Assert.NotNull(acquired);
    }

    [Fact]
    public void Process_tokens_are_stable_and_name_safe()
    {
        Assert.Equal(ProcessIdentity.Token, ProcessIdentity.Token);
        Assert.Matches("^[0-9a-f]{10}$", ProcessIdentity.Token);
        Assert.Equal(ProcessIdentity.StableKey("a"), ProcessIdentity.StableKey("a"));
        Assert.NotEqual(ProcessIdentity.StableKey("a"), ProcessIdentity.StableKey("b"));
        Assert.True(ProcessIdentity.LockKey >= 0);
    }
}
