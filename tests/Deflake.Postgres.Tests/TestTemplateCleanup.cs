using System.Collections.Concurrent;
using Npgsql;

[assembly: AssemblyFixture(typeof(Deflake.Postgres.Tests.TestTemplateCleanup))]

namespace Deflake.Postgres.Tests;

/// <summary>
/// Tests make a brand-new template each (fresh schema versions); this drops the ones this test process made once
/// every test has run, so repeated runs do not pile templates up on the shared server. The chaos tests' per-seed
/// templates are kept for the next run (they are its templates again), but each build of Deflake makes new ones, and
/// their pools skip collection: so the templates no run has used for an hour are collected too, by Deflake's own age
/// rule (a template a live pool of any process uses is never dropped).
/// </summary>
public sealed class TestTemplateCleanup : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<string, byte> Templates = new(StringComparer.Ordinal);

    public static void Track(string template) => Templates.TryAdd(template, 0);

    public async ValueTask DisposeAsync()
    {
        await DropTemplatesUnusedForAnHourAsync();
        if (Templates.IsEmpty)
        {
            return;
        }

        await using var admin = await PostgresTestServer.OpenAdminAsync();
        foreach (var template in Templates.Keys)
        {
            if (!template.StartsWith("deflake_tpl_", StringComparison.Ordinal))
            {
                continue;
            }

            await TestSchemas.ExecuteAsync(admin,
                $"do $$ begin if exists (select from pg_database where datname = '{template}') then alter database \"{template}\" with is_template false; end if; end $$");
            await TestSchemas.ExecuteAsync(admin, $"drop database if exists \"{template}\" with (force)");
        }

        Templates.Clear();
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>
    /// Collection as a pool start does it, with templates unused for an hour old enough to go (superseded ones are left
    /// to that rule: a seed loop's templates share a lineage). Only on the throwaway local server, when a test used it.
    /// </summary>
    private static async Task DropTemplatesUnusedForAnHourAsync()
    {
        if (!PostgresTestServer.UsedTheLocalServer)
        {
            return;
        }

        await using var engine = await PostgresTestServer.CreateEngineAsync(o => (o.DropTemplatesUnusedFor, o.KeepSupersededTemplates) = (TimeSpan.FromHours(1), null));
        await engine.StartAsync(new EngineContext(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System, ChaosModes.None, 0));
        await engine.RemoveOrphansAsync(TimeSpan.FromDays(1));
    }
}
