namespace Redoubt.Server.Storage;

/// <summary>
/// Redis's glob-style matching (stringmatchlen): * ? [abc] [^a-z] [a-z] and \ escapes, optionally
/// case-insensitive. Used by KEYS, SCAN MATCH, CONFIG GET, PUBSUB patterns and ACL patterns.
/// Recursion on '*' is bounded like Redis's (nesting limit) so hostile patterns cannot blow the stack.
/// </summary>
public static class GlobMatcher
{
    public static bool Match(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text, bool noCase = false)
    {
        bool skipLongerMatches = false;
        return MatchImpl(pattern, text, noCase, ref skipLongerMatches, 0);
    }

    public static bool Match(string pattern, string text, bool noCase = false)
        => Match(System.Text.Encoding.Latin1.GetBytes(pattern), System.Text.Encoding.Latin1.GetBytes(text), noCase);

    private static byte Lower(byte b) => b >= 'A' && b <= 'Z' ? (byte)(b | 0x20) : b;

    private static bool MatchImpl(ReadOnlySpan<byte> p, ReadOnlySpan<byte> s, bool noCase, ref bool skipLongerMatches, int nesting)
    {
        // Protection against abusive patterns, as Redis does.
        if (nesting > 1000) return false;
        while (p.Length > 0 && s.Length > 0)
        {
            switch (p[0])
            {
                case (byte)'*':
                    while (p.Length > 1 && p[1] == '*') p = p[1..];
                    if (p.Length == 1) return true;
                    while (s.Length > 0)
                    {
                        if (MatchImpl(p[1..], s, noCase, ref skipLongerMatches, nesting + 1)) return true;
                        if (skipLongerMatches) return false;
                        s = s[1..];
                    }
                    // No match for the rest of the pattern: longer texts won't match either.
                    skipLongerMatches = true;
                    return false;
                case (byte)'?':
                    s = s[1..];
                    break;
                case (byte)'[':
                {
                    p = p[1..];
                    bool not = p.Length > 0 && p[0] == '^';
                    if (not) p = p[1..];
                    bool match = false;
                    while (true)
                    {
                        if (p.Length == 0) break;
                        if (p[0] == '\\' && p.Length >= 2)
                        {
                            p = p[1..];
                            if (p[0] == s[0]) match = true;
                        }
                        else if (p[0] == ']') break;
                        else if (p.Length >= 3 && p[1] == '-')
                        {
                            int start = p[0], end = p[2], c = s[0];
                            if (start > end) (start, end) = (end, start);
                            if (noCase)
                            {
                                start = Lower((byte)start);
                                end = Lower((byte)end);
                                c = Lower((byte)c);
                            }
                            p = p[2..];
                            if (c >= start && c <= end) match = true;
                        }
                        else
                        {
                            if (noCase ? Lower(p[0]) == Lower(s[0]) : p[0] == s[0]) match = true;
                        }
                        p = p[1..];
                    }
                    // An unterminated '[' leaves p empty: Redis then treats the end of the pattern as ']'.
                    if (not) match = !match;
                    if (!match) return false;
                    s = s[1..];
                    if (p.Length == 0) return s.Length == 0;
                    break;
                }
                case (byte)'\\':
                    if (p.Length >= 2) p = p[1..];
                    goto default;
                default:
                    if (noCase ? Lower(p[0]) != Lower(s[0]) : p[0] != s[0]) return false;
                    s = s[1..];
                    break;
            }
            p = p[1..];
            if (s.Length == 0)
            {
                while (p.Length > 0 && p[0] == '*') p = p[1..];
                break;
            }
        }
        return p.Length == 0 && s.Length == 0;
    }
}
