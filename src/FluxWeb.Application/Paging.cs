namespace FluxWeb.Application;

/// <summary>Page numbers from requests, turned into row offsets without overflowing.</summary>
public static class Paging
{
    /// <summary>
    /// The number of rows before <paramref name="page"/> (zero-based; negative counts as 0), or null
    /// when the page starts beyond any table this app keeps: the answer is then an empty page.
    /// In 32 bits, page × pageSize wrapped around (2147483647 × 50 became −50, read as the first page).
    /// </summary>
    public static int? Offset(int page, int pageSize)
    {
        var offset = (long)Math.Max(page, 0) * Math.Max(pageSize, 0);
        return offset <= int.MaxValue ? (int)offset : null;
    }
}
