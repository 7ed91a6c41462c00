using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace Deflake.EntityFrameworkCore.Tests.Contexts;

public sealed class Tag
{
    public int Id { get; set; }

    public string Label { get; set; } = "";
}

/// <summary>A context without migrations: the template is made with EnsureCreated from the model (seed data by HasData).</summary>
public class CatalogContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<Tag> Tags => Set<Tag>();

    public static CatalogContext Create(DbConnection connection)
        => new(new DbContextOptionsBuilder<CatalogContext>().UseSqlite(connection).Options);

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Tag>().HasData(new Tag { Id = 1, Label = "seed" });
    }
}

/// <summary>The same as <see cref="CatalogContext"/> plus one column on Tags.</summary>
public sealed class CatalogWithSlugContext(DbContextOptions options) : CatalogContext(options)
{
    public static new CatalogWithSlugContext Create(DbConnection connection)
        => new(new DbContextOptionsBuilder<CatalogWithSlugContext>().UseSqlite(connection).Options);

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.Entity<Tag>().Property<string>("Slug");
    }
}
