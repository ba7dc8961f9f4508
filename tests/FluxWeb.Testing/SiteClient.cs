using System.Net;
using System.Text.RegularExpressions;
using Xunit;

namespace FluxWeb.Testing;

/// <summary>
/// A person's browser, minus JavaScript: follows the real account forms (antiforgery token,
/// Blazor's form handler field) and keeps cookies.
/// </summary>
public sealed partial class SiteClient(HttpClient http)
{
    public const string StrongPassword = "Sunflower-42!";

    public HttpClient Http { get; } = http;

    public async Task<HttpResponseMessage> RegisterAsync(string email, string password = StrongPassword) =>
        await PostFormAsync("/Account/Register", "register", new()
        {
            ["Input.Email"] = email,
            ["Input.Password"] = password,
            ["Input.ConfirmPassword"] = password,
        });

    public async Task<HttpResponseMessage> LoginAsync(string email, string password = StrongPassword) =>
        await PostFormAsync("/Account/Login", "login", new()
        {
            ["Input.Email"] = email,
            ["Input.Password"] = password,
        });

    public async Task<HttpResponseMessage> LogoutAsync()
    {
        // The sign-out button lives in the interactive layout; its token is in any signed-in page.
        var page = await Http.GetStringAsync("/studio");
        var token = HiddenInputs(page, null)["__RequestVerificationToken"];
        return await Http.PostAsync("/Account/Logout", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = token }));
    }

    public async Task<HttpResponseMessage> PostFormAsync(string url, string formName, Dictionary<string, string> fields)
    {
        var page = await Http.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        var form = HiddenInputs(html, formName);
        foreach (var (key, value) in fields)
        {
            form[key] = value;
        }

        return await Http.PostAsync(url, new FormUrlEncodedContent(form));
    }

    /// <summary>The hidden inputs of the form whose Blazor handler is <paramref name="formName"/> (or of the whole page).</summary>
    public static Dictionary<string, string> HiddenInputs(string html, string? formName)
    {
        var scope = html;
        if (formName is not null)
        {
            var start = html.IndexOf($"value=\"{formName}\"", StringComparison.Ordinal);
            Assert.True(start >= 0, $"The page has no form named '{formName}'.");
            var formStart = html.LastIndexOf("<form", start, StringComparison.Ordinal);
            var formEnd = html.IndexOf("</form>", start, StringComparison.Ordinal);
            scope = html[formStart..formEnd];
        }

        var inputs = new Dictionary<string, string>();
        foreach (Match tag in InputTag().Matches(scope))
        {
            var attributes = Attribute().Matches(tag.Value).ToDictionary(m => m.Groups["key"].Value.ToLowerInvariant(), m => WebUtility.HtmlDecode(m.Groups["value"].Value));
            if (attributes.GetValueOrDefault("type") == "hidden" && attributes.TryGetValue("name", out var name))
            {
                inputs[name] = attributes.GetValueOrDefault("value") ?? "";
            }
        }

        return inputs;
    }

    [GeneratedRegex("<input\\b[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex InputTag();

    [GeneratedRegex("(?<key>[a-zA-Z_:-]+)=\"(?<value>[^\"]*)\"")]
    private static partial Regex Attribute();
}
