using System.Globalization;
using System.Text;
using Deflake.Postgres.Internal;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Deflake.Postgres.Chaos;

/// <summary>
/// Chaos that lives in the PostgreSQL template. <see cref="ChaosModes.Identities"/>: every sequence behind a serial
/// or identity column starts in its own seeded range (<see cref="IdentityRangePlan"/>), as both its START and its
/// current value, so <c>TRUNCATE … RESTART IDENTITY</c> keeps the range. <see cref="ChaosModes.Rows"/>: a schema
/// <c>deflake_chaos</c> with one view per table, ordered by a seeded shuffle of the heap order, which each clone puts
/// first on its <c>search_path</c> (<see cref="PostgresCloneChaos"/>), plus event triggers that let DDL in a test work.
/// </summary>
internal static class PostgresTemplateChaos
{
    /// <summary>The schema that holds Deflake's chaos views and functions; created only in Deflake's templates.</summary>
    public const string Schema = "deflake_chaos";

    /// <summary>The database setting the views read the seed from.</summary>
    public const string SeedSetting = "deflake.seed";

    /// <summary>Applies the template's chaos; returns the keys identities could not cover (empty without identities).</summary>
    public static async Task<IReadOnlyList<NotCoveredKey>> ApplyAsync(NpgsqlConnection connection, TemplateRequest request, ILogger logger, CancellationToken cancellationToken)
    {
        IReadOnlyList<NotCoveredKey> notCovered = [];
        if (request.Chaos.HasFlag(ChaosModes.Identities))
        {
            notCovered = await ApplyIdentitiesAsync(connection, request.Seed, logger, cancellationToken).ConfigureAwait(false);
        }

        if (request.Chaos.HasFlag(ChaosModes.Rows))
        {
            await InstallRowsAsync(connection, logger, cancellationToken).ConfigureAwait(false);
        }

        return notCovered;
    }

    private static async Task<IReadOnlyList<NotCoveredKey>> ApplyIdentitiesAsync(NpgsqlConnection connection, int seed, ILogger logger, CancellationToken cancellationToken)
    {
        var keys = new List<(string Key, string Table, string Column, string Sequence, bool Identity, long Max)>();
        var command = new NpgsqlCommand("""
            select tn.nspname, t.relname, a.attname, sn.nspname, s.relname, a.attidentity <> '', q.seqmax
            from pg_depend d
            join pg_class s on s.oid = d.objid and s.relkind = 'S'
            join pg_namespace sn on sn.oid = s.relnamespace
            join pg_sequence q on q.seqrelid = s.oid
            join pg_class t on t.oid = d.refobjid
            join pg_namespace tn on tn.oid = t.relnamespace
            join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
            where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')
              and tn.nspname not in ('pg_catalog', 'information_schema')
            order by 1, 2, 3
            """, connection);
        await using (command.ConfigureAwait(false))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var table = Quote.Identifier(reader.GetString(0)) + "." + Quote.Identifier(reader.GetString(1));
                    keys.Add(($"{reader.GetString(0)}.{reader.GetString(1)}.{reader.GetString(2)}", table, Quote.Identifier(reader.GetString(2)),
                        Quote.Identifier(reader.GetString(3)) + "." + Quote.Identifier(reader.GetString(4)), reader.GetBoolean(5), reader.GetInt64(6)));
                }
            }
        }

        var plan = IdentityRangePlan.Create(seed, keys.Select(k => k.Key));
        var sql = new StringBuilder();
        var notCovered = new List<NotCoveredKey>();
        foreach (var key in keys)
        {
            var start = plan.StartOf(key.Key).ToString(CultureInfo.InvariantCulture);
            if (plan.StartOf(key.Key) + IdentityRangePlan.Spacing > key.Max)
            {
                notCovered.Add(new NotCoveredKey(key.Key, $"its sequence stops at {key.Max.ToString(CultureInfo.InvariantCulture)}"));
                continue;
            }

            // START as well as RESTART: TRUNCATE … RESTART IDENTITY goes back to START, which stays in the range.
            sql.Append(key.Identity
                ? $"alter table {key.Table} alter column {key.Column} set start with {start} restart with {start};"
                : $"alter sequence {key.Sequence} start with {start} restart with {start};");
        }

        if (sql.Length > 0)
        {
            var alter = new NpgsqlCommand(sql.ToString(), connection);
            await using (alter.ConfigureAwait(false))
            {
                await alter.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        if (notCovered.Count > 0)
        {
            logger.LogWarning("Deflake identities does not cover {Count} PostgreSQL column(s); they still count from their own start: {Columns}",
                notCovered.Count, string.Join("; ", notCovered));
        }

        logger.LogDebug("Deflake identities: {Count} sequence(s) moved to seeded ranges (seed {Seed})", keys.Count - notCovered.Count, seed);
        return notCovered;
    }

    private static async Task InstallRowsAsync(NpgsqlConnection connection, ILogger logger, CancellationToken cancellationToken)
    {
        bool superuser;
        string schemas;
        var probe = new NpgsqlCommand(
            "select rolsuper, array_to_string(array(select quote_literal(s) from unnest(current_schemas(false)) s), ',') from pg_roles where rolname = current_user", connection);
        await using (probe.ConfigureAwait(false))
        {
            var reader = await probe.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                superuser = reader.GetBoolean(0);
                schemas = reader.IsDBNull(1) ? "" : reader.GetString(1);
            }
        }

        var options = connection.PostgreSqlVersion.Major >= 15 ? " with (security_invoker = true)" : "";
        var sql = RowsSql(schemas, options);
        if (superuser)
        {
            sql += EventTriggerSql;
        }
        else
        {
            logger.LogWarning("Deflake rows chaos: the PostgreSQL role is not a superuser, so DDL on a table in a test (ALTER TABLE, DROP TABLE) "
                + "fails while its shuffled view exists; qualify the table with its schema, or use a superuser.");
        }

        var command = new NpgsqlCommand(sql, connection);
        await using (command.ConfigureAwait(false))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The position of a row in heap order as a bigint (block × 65536 + line pointer). A view orders rows at or above
    /// a seeded pivot, strictly above the first row's position, first, and each part by a seeded hash of the position:
    /// the first row of the heap never comes first and the heap order never comes back whole.
    /// </summary>
    private const string Position = "((ctid::text::point)[0]::bigint * 65536 + (ctid::text::point)[1]::bigint)";

    private static string RowsSql(string schemas, string viewOptions) => $$"""
        create schema {{Schema}};
        comment on schema {{Schema}} is 'Deflake rows chaos: one view per table, shuffled by the seed in deflake.seed. Placed first on this test database''s search_path; TRUNCATE a table by its qualified name (public.t).';
        create function {{Schema}}.seed() returns bigint language sql stable
            as $$ select coalesce(nullif(current_setting('{{SeedSetting}}', true), ''), '0')::bigint $$;
        create function {{Schema}}.drop_views() returns void language plpgsql set search_path = pg_catalog as $$
        declare r record;
        begin
            for r in select c.relname from pg_class c where c.relnamespace = '{{Schema}}'::regnamespace and c.relkind = 'v' loop
                execute format('drop view if exists {{Schema}}.%I', r.relname);
            end loop;
        end $$;
        create function {{Schema}}.create_views() returns void language plpgsql set search_path = pg_catalog as $$
        declare
            r record;
            pos text := '{{Position}}';
            seen text[] := '{}';
        begin
            perform set_config('deflake.chaos_busy', 'on', true);
            perform {{Schema}}.drop_views();
            for r in
                select n.nspname, c.relname
                from unnest(array[{{(schemas.Length == 0 ? "'public'" : schemas)}}]::text[]) with ordinality as s(name, ord)
                join pg_namespace n on n.nspname = s.name
                join pg_class c on c.relnamespace = n.oid and c.relkind in ('r', 'p')
                order by s.ord, c.relname
            loop
                continue when r.relname = any(seen);
                seen := seen || r.relname::text;
                execute format(
                    'create view {{Schema}}.%1$I{{viewOptions}} as select * from %2$I.%1$I order by '
                    || '(%3$s >= (select p.lo + 1 + (abs(hashint8extended(0, {{Schema}}.seed())) %% greatest(p.hi - p.lo, 1)) from '
                    || '(select %4$s as lo, %5$s as hi from %2$I.%1$I) p)) desc, hashint8extended(%3$s, {{Schema}}.seed())',
                    r.relname, r.nspname, pos,
                    replace(pos, 'ctid', 'min(ctid)'), replace(pos, 'ctid', 'max(ctid)'));
            end loop;
            perform set_config('deflake.chaos_busy', '', true);
        end $$;
        select {{Schema}}.create_views();
        """;

    /// <summary>DDL in a test works: the views step aside before any DDL command and are rebuilt from the new schema after it.</summary>
    private const string EventTriggerSql = $$"""
        create function {{Schema}}.before_ddl() returns event_trigger language plpgsql set search_path = pg_catalog as $$
        begin
            if coalesce(current_setting('deflake.chaos_busy', true), '') = 'on' then return; end if;
            perform set_config('deflake.chaos_busy', 'on', true);
            perform {{Schema}}.drop_views();
            perform set_config('deflake.chaos_busy', '', true);
        end $$;
        create function {{Schema}}.after_ddl() returns event_trigger language plpgsql set search_path = pg_catalog as $$
        begin
            if coalesce(current_setting('deflake.chaos_busy', true), '') = 'on' then return; end if;
            if not exists (select from pg_namespace where nspname = '{{Schema}}') then return; end if;
            perform {{Schema}}.create_views();
        end $$;
        create event trigger deflake_chaos_before_ddl on ddl_command_start execute function {{Schema}}.before_ddl();
        create event trigger deflake_chaos_after_ddl on ddl_command_end execute function {{Schema}}.after_ddl();
        """;
}

/// <summary>
/// Per-clone chaos setup: under <see cref="ChaosModes.Rows"/> the clone's <c>search_path</c> puts
/// <c>deflake_chaos</c> first and <c>deflake.seed</c> carries the seed, both as database settings, so every
/// connection to the clone sees the shuffle, including ones the app opens itself from the connection string.
/// </summary>
internal static class PostgresCloneChaos
{
    public static async Task ConfigureAsync(NpgsqlConnection admin, string clone, ChaosModes chaos, int seed, CancellationToken cancellationToken)
    {
        if (!chaos.HasFlag(ChaosModes.Rows))
        {
            return;
        }

        var name = Quote.Identifier(clone);
        var sql = "select current_setting('search_path')";
        string searchPath;
        var command = new NpgsqlCommand(sql, admin);
        await using (command.ConfigureAwait(false))
        {
            searchPath = (string)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        var path = string.IsNullOrWhiteSpace(searchPath) ? PostgresTemplateChaos.Schema : PostgresTemplateChaos.Schema + ", " + searchPath;
        var alter = new NpgsqlCommand(
            $"alter database {name} set search_path = {path}; " +
            $"alter database {name} set {PostgresTemplateChaos.SeedSetting} = {Quote.Literal(seed.ToString(CultureInfo.InvariantCulture))}", admin);
        await using (alter.ConfigureAwait(false))
        {
            await alter.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
