using System.Text;

namespace Deflake.Cli.Running;

/// <summary>Formats command lines people can paste into a POSIX shell.</summary>
internal static class Shell
{
    /// <summary>Quotes a word only when it needs it.</summary>
    public static string Quote(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        if (word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,+@%".Contains(c, StringComparison.Ordinal)))
        {
            return word;
        }

        return "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }

    /// <summary>Joins environment assignments and words into one command line.</summary>
    public static string Join(IEnumerable<KeyValuePair<string, string>> environment, IEnumerable<string> words)
    {
        var text = new StringBuilder();
        foreach (var (name, value) in environment)
        {
            text.Append(name).Append('=').Append(Quote(value)).Append(' ');
        }

        text.Append(string.Join(' ', words.Select(Quote)));
        return text.ToString();
    }

    /// <summary>
    /// A file in the folder the command runs in, as an absolute path the shell expands when it runs the line
    /// (<c>"$PWD/name"</c>): a test process that changes its folder still finds it. The name must need no quoting.
    /// </summary>
    public static string InCurrentDirectory(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        if (Quote(fileName) != fileName || fileName.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{fileName}' is not a plain file name.", nameof(fileName));
        }

        return $"\"$PWD/{fileName}\"";
    }

    /// <summary>A path as short as it can be: relative to the current directory when below it.</summary>
    public static string DisplayPath(string path)
    {
        var full = Path.GetFullPath(path);
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, full);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? full : relative;
    }
}
