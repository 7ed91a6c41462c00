using System.Globalization;

namespace Deflake;

/// <summary>
/// Values that no other concurrent test process of the run produces, without asking anyone: the prefix, this
/// process's worker id, a per-process counter and a short run token, such as <c>user-w1-0007-k3f9</c>.
/// Use them for the user names, emails and titles a test creates, so parallel tests never meet on a unique column.
/// </summary>
/// <remarks>
/// Uniqueness among concurrent processes comes from <see cref="DeflakeWorker.Index"/> (no two live processes hold
/// the same one) and within a process from the counter. The run token is four characters drawn from a
/// <see cref="Random"/> seeded with <c>DEFLAKE_SEED</c>: processes of one run that share the seed share the token,
/// so a replay with the same seed produces the same values, and data left over from a run with another seed does
/// not collide (odds 1 in 36⁴). Values use only ASCII letters, digits and <c>-</c>: safe in an email's local part,
/// a user name, a file name or an identifier.
/// </remarks>
public static class UniqueValue
{
    /// <summary>The default <c>maxLength</c> of <see cref="Name"/>: fits a 32-character user name column.</summary>
    public const int DefaultMaxLength = 32;

    /// <summary>The longest local part an email may have (RFC 5321).</summary>
    public const int MaxEmailLocalPartLength = 64;

    private const string TokenAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
    private static readonly Lazy<string> LazyRunToken = new(DrawRunToken);
    private static long _counter;

    /// <summary>The run token: four lowercase letters and digits derived from <c>DEFLAKE_SEED</c>.</summary>
    public static string RunToken => LazyRunToken.Value;

    /// <summary>
    /// A unique name: <paramref name="prefix"/>, the worker id, a counter of at least four digits and the run token,
    /// such as <c>user-w1-0007-k3f9</c>. The prefix is shortened when the whole would exceed
    /// <paramref name="maxLength"/>.
    /// </summary>
    /// <param name="prefix">What the value is for; ASCII letters, digits, <c>-</c>, <c>_</c> and <c>.</c>.</param>
    /// <param name="maxLength">The longest value the column takes; the default fits 32 characters.</param>
    /// <exception cref="ArgumentException">The prefix is empty or has other characters.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> leaves no room for the prefix.</exception>
    public static string Name(string prefix = "user", int maxLength = DefaultMaxLength)
    {
        ValidatePrefix(prefix);
        var suffix = NextSuffix();
        var room = maxLength - suffix.Length;
        if (room < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength,
                $"maxLength: a unique value needs at least {suffix.Length + 1} characters ('{prefix[0]}{suffix}'); raise maxLength.");
        }

        return (prefix.Length <= room ? prefix : prefix[..room]) + suffix;
    }

    /// <summary>
    /// A unique email address: <c><see cref="Name"/>@<paramref name="domain"/></c>, such as
    /// <c>user-w1-0007-k3f9@example.test</c>. The local part stays within <paramref name="maxLocalPartLength"/>.
    /// </summary>
    /// <param name="prefix">The start of the local part; ASCII letters, digits, <c>-</c>, <c>_</c> and <c>.</c>.</param>
    /// <param name="domain">The domain; the default, under <c>.test</c>, never delivers mail.</param>
    /// <param name="maxLocalPartLength">The longest local part; at most 64.</param>
    /// <exception cref="ArgumentException">The prefix or domain is empty or has other characters.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLocalPartLength"/> is out of range.</exception>
    public static string Email(string prefix = "user", string domain = "example.test", int maxLocalPartLength = MaxEmailLocalPartLength)
    {
        ArgumentNullException.ThrowIfNull(domain);
        if (domain.Length == 0 || domain.Length > 253 || domain[0] is '.' or '-' || domain[^1] is '.' or '-'
            || !domain.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.') || domain.Contains("..", StringComparison.Ordinal))
        {
            throw new ArgumentException($"domain: '{domain}' is not a domain name; use letters, digits, '-' and '.' such as example.test.", nameof(domain));
        }

        if (maxLocalPartLength > MaxEmailLocalPartLength)
        {
            throw new ArgumentOutOfRangeException(nameof(maxLocalPartLength), maxLocalPartLength,
                $"maxLocalPartLength: an email's local part has at most {MaxEmailLocalPartLength} characters.");
        }

        return Name(prefix, maxLocalPartLength) + "@" + domain;
    }

    /// <summary>
    /// A unique positive number: the worker index plus one, then nine digits of counter, such as
    /// <c>2000000007</c> for the 7th number of worker <c>w1</c>. Unique among concurrent processes; unlike
    /// <see cref="Name"/> it carries no run token, so a persistent database may already hold it from an earlier run.
    /// </summary>
    public static long Number() => (DeflakeWorker.Index + 1L) * 1_000_000_000L + (Interlocked.Increment(ref _counter) % 1_000_000_000L);

    private static string NextSuffix()
    {
        var count = Interlocked.Increment(ref _counter);
        return string.Create(CultureInfo.InvariantCulture, $"-{DeflakeWorker.Id}-{count:D4}-{RunToken}");
    }

    private static void ValidatePrefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Length == 0 || !prefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException($"prefix: '{prefix}' must be non-empty ASCII letters, digits, '-', '_' or '.', such as user.", nameof(prefix));
        }
    }

    private static string DrawRunToken()
    {
        var random = new Random(DeflakeEnvironment.CurrentSeed);
        return string.Create(4, random, static (span, r) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = TokenAlphabet[r.Next(TokenAlphabet.Length)];
            }
        });
    }
}
