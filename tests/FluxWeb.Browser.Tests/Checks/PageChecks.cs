using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests.Checks;

/// <summary>
/// Checks that judge a whole page in the browser from what it computed and laid out: text contrast
/// (<c>contrast.js</c>) and horizontal overflow on narrow screens (<c>overflow.js</c>).
/// </summary>
public static class PageChecks
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    public sealed record ContrastIssue(string Text, string Element, string Foreground, string Background, double Ratio, double Needed, double FontSize, bool Bold, string? BackgroundImageOn)
    {
        public override string ToString() =>
            string.Create(CultureInfo.InvariantCulture, $"{Ratio:0.00}:1 (needs {Needed}:1) {Foreground} on {Background}, {FontSize}px{(Bold ? " bold" : "")}: \"{Text}\" in {Element}");
    }

    public sealed record ContrastReport(int Checked, ContrastIssue[] Offenders, ContrastIssue[] Undecided);

    public sealed record OverflowIssue(string Problem, string Element, string Text)
    {
        public override string ToString() => $"{Problem}: {Element}{(Text.Length > 0 ? $" \"{Text}\"" : "")}";
    }

    public sealed record OverflowReport(int Checked, OverflowIssue[] Offenders);

    public static async Task<ContrastReport> ContrastAsync(IPage page)
    {
        await SettleAsync(page);
        return Parse<ContrastReport>(await page.EvaluateAsync<JsonElement>(Script("contrast.js")));
    }

    public static async Task<OverflowReport> OverflowAsync(IPage page)
    {
        await SettleAsync(page);
        return Parse<OverflowReport>(await page.EvaluateAsync<JsonElement>(Script("overflow.js")));
    }

    /// <summary>
    /// The page at rest: transitions and animations jump to their end (a theme's colours fade in over a
    /// fraction of a second), and the pointer rests where it hovers nothing, so a hover colour left by
    /// the last click is not judged as the page's.
    /// </summary>
    private static async Task SettleAsync(IPage page)
    {
        await page.AddStyleTagAsync(new PageAddStyleTagOptions
        {
            Content = "*, *::before, *::after { transition: none !important; animation: none !important; }",
        });
        var size = page.ViewportSize!;
        await page.Mouse.MoveAsync(size.Width - 1, size.Height - 1);
    }

    /// <summary>Lines for a failure message (and the artefacts' report), one per problem, at most <paramref name="limit"/>.</summary>
    public static string Describe<T>(string title, IReadOnlyList<T> issues, int limit = 40)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{title}: {issues.Count}");
        foreach (var issue in issues.Take(limit))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {issue}");
        }

        if (issues.Count > limit)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  … and {issues.Count - limit} more");
        }

        return text.ToString();
    }

    private static T Parse<T>(JsonElement element) => element.Deserialize<T>(Json) ?? throw new InvalidOperationException("The page check returned nothing.");

    private static string Script(string name)
    {
        using var stream = typeof(PageChecks).Assembly.GetManifestResourceStream($"FluxWeb.Browser.Tests.Checks.{name}")
            ?? throw new InvalidOperationException($"Checks/{name} is not embedded in the test assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
