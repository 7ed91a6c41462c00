namespace Deflake.Cli.Tests;

/// <summary>Paths in the repository these tests run from.</summary>
internal static class Repository
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "Deflake.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Deflake.slnx not found above " + AppContext.BaseDirectory);
    });

    public static string Path(string relative) => System.IO.Path.Combine(Root.Value, relative);
}
