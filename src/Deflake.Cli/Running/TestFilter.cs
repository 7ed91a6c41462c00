using System.Text;

namespace Deflake.Cli.Running;

/// <summary>A test the runner listed: its id (<c>Namespace.Class.Method</c>) and its traits.</summary>
/// <param name="Id">The test id.</param>
/// <param name="Traits">Trait name to values (xUnit's <c>[Trait("Category", "Slow")]</c>); names compare ignoring case.</param>
internal sealed record TestCase(string Id, IReadOnlyDictionary<string, IReadOnlyList<string>> Traits)
{
    /// <summary>A test without traits.</summary>
    public TestCase(string id)
        : this(id, new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase))
    {
    }

    /// <summary>The class's full name: the id up to its last dot.</summary>
    public string ClassName => Id.LastIndexOf('.') is var dot and > 0 ? Id[..dot] : string.Empty;

    /// <summary>The method's name: the id after its last dot.</summary>
    public string MethodName => Id[(Id.LastIndexOf('.') + 1)..];

    /// <summary>The namespace: the class's full name up to its last dot.</summary>
    public string Namespace => ClassName.LastIndexOf('.') is var dot and > 0 ? ClassName[..dot] : string.Empty;
}

/// <summary>
/// The part of <c>dotnet test --filter</c> that people type, applied to the listed tests so that a hunt runs part of
/// a suite: <c>Property=Value</c> (equals), <c>!=</c>, <c>~</c> (contains), <c>!~</c>; conditions joined by <c>&amp;</c>
/// (and, binds first) and <c>|</c> (or), grouped with parentheses; a bare value means <c>FullyQualifiedName~value</c>.
/// Properties: <c>FullyQualifiedName</c> (the test id), <c>Name</c> (the method's name, or the id), <c>ClassName</c>
/// (the class's full name), <c>Namespace</c>, and any other name is a trait (<c>Category=Slow</c>,
/// <c>Priority=1</c>). Values compare ignoring case, as <c>dotnet test</c> does; <c>\</c> escapes a special character.
/// </summary>
internal sealed class TestFilter
{
    private readonly Func<TestCase, bool> _matches;

    private TestFilter(string text, Func<TestCase, bool> matches)
    {
        Text = text;
        _matches = matches;
    }

    /// <summary>The expression as given.</summary>
    public string Text { get; }

    /// <summary>Whether the test is selected.</summary>
    public bool Matches(TestCase test)
    {
        ArgumentNullException.ThrowIfNull(test);
        return _matches(test);
    }

    /// <summary>Parses an expression.</summary>
    /// <exception cref="CliException">It is empty, unbalanced, or uses what this filter does not support (exit code 2), with the way to fix it.</exception>
    public static TestFilter Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new Parser(text);
        var matches = parser.Or();
        parser.End();
        return new TestFilter(text, matches);
    }

    /// <summary>A recursive-descent parser: or := and ('|' and)*; and := term ('&amp;' term)*; term := '(' or ')' | condition.</summary>
    private sealed class Parser(string text)
    {
        private int _at;

        public Func<TestCase, bool> Or()
        {
            var left = And();
            while (Skip('|'))
            {
                var (a, b) = (left, And());
                left = t => a(t) || b(t);
            }

            return left;
        }

        private Func<TestCase, bool> And()
        {
            var left = Term();
            while (Skip('&'))
            {
                var (a, b) = (left, Term());
                left = t => a(t) && b(t);
            }

            return left;
        }

        private Func<TestCase, bool> Term()
        {
            if (Skip('('))
            {
                var inner = Or();
                if (!Skip(')'))
                {
                    throw Error("a '(' is not closed");
                }

                return inner;
            }

            var property = Word();
            SkipSpaces();
            string op;
            if (_at < text.Length && (text[_at] is '=' or '~'))
            {
                op = text[_at++].ToString();
            }
            else if (_at + 1 < text.Length && text[_at] == '!' && text[_at + 1] is '=' or '~')
            {
                op = text.Substring(_at, 2);
                _at += 2;
            }
            else if (property.Length > 0)
            {
                // A bare value: what 'dotnet test --filter Name' means.
                return Condition("FullyQualifiedName", "~", property);
            }
            else
            {
                throw Error(_at < text.Length ? $"unexpected '{text[_at]}' at position {_at + 1}" : "a condition is missing at the end");
            }

            var value = Word();
            if (property.Length == 0 || value.Length == 0)
            {
                throw Error($"'{op}' needs a property before it and a value after it");
            }

            return Condition(property, op, value);
        }

        private static Func<TestCase, bool> Condition(string property, string op, string value)
        {
            Func<TestCase, IEnumerable<string>> values = property.ToLowerInvariant() switch
            {
                "fullyqualifiedname" => t => [t.Id],
                "name" or "displayname" => t => [t.MethodName, t.Id],
                "classname" => t => [t.ClassName],
                "namespace" => t => [t.Namespace],
                _ => t => t.Traits.TryGetValue(property, out var traits) ? traits : [],
            };
            Func<string, bool> test = op[^1] == '='
                ? v => string.Equals(v, value, StringComparison.OrdinalIgnoreCase)
                : v => v.Contains(value, StringComparison.OrdinalIgnoreCase);
            return op[0] == '!' ? t => !values(t).Any(test) : t => values(t).Any(test);
        }

        /// <summary>A property name or a value: up to an operator, '&amp;', '|' or a parenthesis ('\' escapes one).</summary>
        private string Word()
        {
            SkipSpaces();
            var word = new StringBuilder();
            while (_at < text.Length && text[_at] is not ('=' or '~' or '&' or '|' or '(' or ')')
                && !(text[_at] == '!' && _at + 1 < text.Length && text[_at + 1] is '=' or '~'))
            {
                if (text[_at] == '\\' && _at + 1 < text.Length)
                {
                    _at++;
                }

                word.Append(text[_at++]);
            }

            return word.ToString().Trim();
        }

        public void End()
        {
            SkipSpaces();
            if (_at < text.Length)
            {
                throw Error(text[_at] == ')' ? "a ')' has no '('" : $"unexpected '{text[_at]}' at position {_at + 1}");
            }
        }

        private bool Skip(char c)
        {
            SkipSpaces();
            if (_at < text.Length && text[_at] == c)
            {
                _at++;
                return true;
            }

            return false;
        }

        private void SkipSpaces()
        {
            while (_at < text.Length && char.IsWhiteSpace(text[_at]))
            {
                _at++;
            }
        }

        private CliException Error(string what) => CliException.Usage(
            $"--filter '{text}': {what}; write conditions like FullyQualifiedName~Shop.Cart, ClassName=Shop.CartTests, Name=Adds_an_item or Category=Slow, joined by & and |.");
    }
}
