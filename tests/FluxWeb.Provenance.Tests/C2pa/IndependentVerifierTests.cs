using System.Text.Json;

namespace FluxWeb.Provenance.Tests.C2pa;

/// <summary>Outputs checked by the independent verifier @contentauth/c2pa-node 0.8.0 (c2pa-rs 0.90).</summary>
public sealed class IndependentVerifierTests(SigningFixture fixture) : IClassFixture<SigningFixture>
{
    public static TheoryData<string> Formats() => ["image/png", "image/jpeg"];

    [Theory]
    [MemberData(nameof(Formats))]
    public void Outputs_are_valid_and_trusted_with_the_generated_root_as_anchor(string mimeType)
    {
        var signed = fixture.Signer.Sign(fixture.Output(mimeType), SigningFixture.Description);

        var untrusted = ContentAuthVerifier.Verify(signed, mimeType);
        var trusted = ContentAuthVerifier.Verify(signed, mimeType, fixture.RootPem);

        Assert.Equal("Valid", untrusted.GetProperty("validation_state").GetString());
        Assert.Equal("Trusted", trusted.GetProperty("validation_state").GetString());
        Assert.Empty(Failures(trusted));
        Assert.Contains("signingCredential.trusted", Codes(trusted, "success"));
        Assert.Contains("assertion.dataHash.match", Codes(trusted, "success"));
        Assert.Contains("claimSignature.validated", Codes(trusted, "success"));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void The_manifest_names_the_model_the_source_type_and_the_ingredients(string mimeType)
    {
        var signed = fixture.Signer.Sign(fixture.Output(mimeType), SigningFixture.Description);

        var manifest = ContentAuthVerifier.Verify(signed, mimeType).GetProperty("manifest");

        Assert.Equal(2, manifest.GetProperty("claim_version").GetInt32());
        Assert.Equal("FluxWeb", manifest.GetProperty("claim_generator_info")[0].GetProperty("name").GetString());
        var created = manifest.GetProperty("assertions").EnumerateArray()
            .Single(a => a.GetProperty("label").GetString() == "c2pa.actions.v2")
            .GetProperty("data").GetProperty("actions")[0];
        Assert.Equal("c2pa.created", created.GetProperty("action").GetString());
        Assert.Equal("http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia", created.GetProperty("digitalSourceType").GetString());
        var agent = created.GetProperty("softwareAgent");
        Assert.Equal("FluxWeb", agent.GetProperty("name").GetString());
        Assert.Equal("black-forest-labs/FLUX.2-klein-4B", agent.GetProperty("org.fluxweb.model").GetProperty("id").GetString());
        Assert.Equal("Apache-2.0", agent.GetProperty("org.fluxweb.model").GetProperty("licence").GetString());
        Assert.Equal(2, created.GetProperty("parameters").GetProperty("ingredients").GetArrayLength());
        var ingredients = manifest.GetProperty("ingredients").EnumerateArray().ToList();
        Assert.Equal(["reference.png", "mask.png"], ingredients.Select(i => i.GetProperty("title").GetString()));
        Assert.All(ingredients, i => Assert.Equal("inputTo", i.GetProperty("relationship").GetString()));
        Assert.StartsWith("sha256:", ingredients[0].GetProperty("instance_id").GetString(), StringComparison.Ordinal);
        Assert.Equal("image/jpeg", ingredients[0].GetProperty("thumbnail").GetProperty("format").GetString());
        Assert.False(ingredients[1].TryGetProperty("thumbnail", out _));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void One_flipped_byte_in_the_picture_makes_it_invalid(string mimeType)
    {
        var signed = fixture.Signer.Sign(fixture.Output(mimeType), SigningFixture.Description);
        signed[signed.Length - 40] ^= 0x01;

        var result = ContentAuthVerifier.Verify(signed, mimeType, fixture.RootPem);

        Assert.Equal("Invalid", result.GetProperty("validation_state").GetString());
        Assert.Contains("assertion.dataHash.mismatch", Failures(result));
    }

    [Fact]
    public void One_flipped_byte_in_the_claim_makes_it_invalid()
    {
        var signed = fixture.Signer.Sign(fixture.Png, SigningFixture.Description);
        var at = IndexOf(signed, "FluxWeb"u8.ToArray());
        signed[at] ^= 0x20;

        var result = ContentAuthVerifier.Verify(signed, "image/png", fixture.RootPem);

        Assert.Equal("Invalid", result.GetProperty("validation_state").GetString());
    }

    [Fact]
    public void A_manifest_larger_than_one_jpeg_segment_is_split_and_still_valid()
    {
        var description = SigningFixture.Description with
        {
            Ingredients = Enumerable.Range(0, 700).Select(i => new FluxWeb.Provenance.C2pa.IngredientDescription($"reference-{i:D4}.png", "image/png", $"sha256:{new string('a', 64)}")).ToList(),
        };

        var signed = fixture.Signer.Sign(fixture.Jpeg, description);

        Assert.True(CountApp11(signed) >= 2, "the manifest should need several APP11 segments");
        Assert.Equal("Trusted", ContentAuthVerifier.Verify(signed, "image/jpeg", fixture.RootPem).GetProperty("validation_state").GetString());
    }

    private static List<string?> Codes(JsonElement result, string kind) =>
        result.GetProperty("validation_results").GetProperty("activeManifest").GetProperty(kind).EnumerateArray().Select(e => e.GetProperty("code").GetString()).ToList();

    private static List<string?> Failures(JsonElement result) =>
        Codes(result, "failure").Concat(result.GetProperty("validation_status").EnumerateArray().Select(e => e.GetProperty("code").GetString())).ToList();

    internal static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);

    private static int CountApp11(byte[] jpeg)
    {
        var count = 0;
        for (var position = 2; position + 4 < jpeg.Length && jpeg[position] == 0xFF && jpeg[position + 1] != 0xDA; position += 2 + ((jpeg[position + 2] << 8) | jpeg[position + 3]))
        {
            count += jpeg[position + 1] == 0xEB ? 1 : 0;
        }

        return count;
    }
}
