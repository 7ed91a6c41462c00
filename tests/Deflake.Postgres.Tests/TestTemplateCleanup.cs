using System.Collections.Concurrent;
using Npgsql;

[assembly: AssemblyFixture(typeof(Deflake.Postgres.Tests.TestTemplateCleanup))]

namespace Deflake.Postgres.Tests;

/// <summary>
/// Tests make a brand-new template each (fresh schema versions); this drops the ones this test process made once
/// every test has run, so repeated runs do not pile templates up on the shared server.
/// </summary>
public sealed class TestTemplateCleanup : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<string, byte> Templates = new(StringComparer.Ordinal);

    public static void Track(string template) => Templates.TryAdd(template, 0);

    public async ValueTask DisposeAsync()
    {
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
}
