using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FluxWeb.Provenance.C2pa;
using FluxWeb.Provenance.Certificates;
using FluxWeb.Provenance.Decoding;
using FluxWeb.Provenance.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace FluxWeb.Provenance.Tests.C2pa;

public sealed class C2paVerifierTests(SigningFixture fixture) : IClassFixture<SigningFixture>
{
    private C2paVerifier Anchored => new([fixture.Root]);

    public static TheoryData<string> Formats() => ["image/png", "image/jpeg"];

    [Theory]
    [MemberData(nameof(Formats))]
    public void Own_outputs_are_trusted_with_the_root_and_valid_without(string mimeType)
    {
        var signed = fixture.Signer.Sign(fixture.Output(mimeType), SigningFixture.Description);

        var trusted = Anchored.Verify(signed);
        var valid = new C2paVerifier([]).Verify(signed);

        Assert.Equal(C2paValidationState.Trusted, trusted.State);
        Assert.Empty(trusted.Failures);
        Assert.Equal(C2paValidationState.Valid, valid.State);
        Assert.Equal("black-forest-labs/FLUX.2-klein-4B", trusted.ModelId);
        Assert.Equal("Apache-2.0", trusted.ModelLicence);
        Assert.Equal(C2paSigner.TrainedAlgorithmicMedia, trusted.DigitalSourceType);
        Assert.Equal("FluxWeb 1.2.3", trusted.ClaimGenerator);
        Assert.Equal(["reference.png", "mask.png"], trusted.Ingredients.Select(i => i.Title));
        Assert.Equal([true, false], trusted.Ingredients.Select(i => i.HasThumbnail));
        Assert.Equal("FluxWeb C2PA Signer (tests)", trusted.Signer);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Signing_leaves_the_picture_bytes_and_decodability_intact(string mimeType)
    {
        var original = fixture.Output(mimeType);

        var signed = fixture.Signer.Sign(original, SigningFixture.Description);

        using var decoded = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.Rgba32>(signed);
        using var expected = SixLabors.ImageSharp.Image.Load<SixLabors.ImageSharp.PixelFormats.Rgba32>(original);
        Assert.Equal(expected[100, 100], decoded[100, 100]);
        Assert.True(signed.Length > original.Length);
        Assert.Equal(original[^100..], signed[^100..]);
    }

    [Fact]
    public void An_unsigned_file_or_a_webp_is_absent()
    {
        Assert.Equal(C2paValidationState.Absent, Anchored.Verify(fixture.Png).State);
        Assert.Equal(C2paValidationState.Absent, Anchored.Verify(fixture.Jpeg).State);
        Assert.Equal(C2paValidationState.Absent, Anchored.Verify("RIFF\u0004\0\0\0WEBP"u8.ToArray()).State);
        Assert.Equal(C2paValidationState.Absent, Anchored.Verify([]).State);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void A_flipped_picture_byte_breaks_the_hard_binding(string mimeType)
    {
        var signed = fixture.Signer.Sign(fixture.Output(mimeType), SigningFixture.Description);
        signed[signed.Length - 40] ^= 0x01;

        var result = Anchored.Verify(signed);

        Assert.Equal(C2paValidationState.Invalid, result.State);
        Assert.Equal("assertion.dataHash.mismatch", Assert.Single(result.Failures).Code);
    }

    [Theory]
    [InlineData("reference.png", 0, "assertion.hashedURI.mismatch")]
    [InlineData("xmp:iid:", 9, "claimSignature.mismatch")]
    public void A_change_inside_the_manifest_is_caught_by_the_check_that_covers_it(string near, int offset, string expectedCode)
    {
        var signed = fixture.Signer.Sign(fixture.Png, SigningFixture.Description);
        signed[IndependentVerifierTests.IndexOf(signed, System.Text.Encoding.ASCII.GetBytes(near)) + offset] ^= 0x20;
        RecomputeManifestCrc(signed);

        var result = Anchored.Verify(signed);

        Assert.Equal(C2paValidationState.Invalid, result.State);
        Assert.Contains(result.Failures, f => f.Code == expectedCode);
    }

    [Fact]
    public void A_damaged_manifest_chunk_is_invalid()
    {
        var signed = fixture.Signer.Sign(fixture.Png, SigningFixture.Description);
        signed[IndependentVerifierTests.IndexOf(signed, "reference.png"u8.ToArray())] ^= 0x20;

        var result = Anchored.Verify(signed);

        Assert.Equal(C2paValidationState.Invalid, result.State);
        Assert.Contains("CRC", Assert.Single(result.Failures).Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void Garbage_in_the_manifest_chunk_is_invalid_not_an_exception()
    {
        var signed = fixture.Signer.Sign(fixture.Png, SigningFixture.Description);
        var chunk = IndependentVerifierTests.IndexOf(signed, "caBX"u8.ToArray());
        RandomNumberGenerator.Fill(signed.AsSpan(chunk + 4 + 30, 200));

        var result = Anchored.Verify(signed);

        Assert.Equal(C2paValidationState.Invalid, result.State);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void No_single_bit_change_inside_the_manifest_is_accepted_or_crashes_the_verifier(string mimeType)
    {
        var signed = fixture.Signer.Sign(fixture.Output(mimeType), SigningFixture.Description);
        var format = mimeType == "image/png" ? ImageContainerFormat.Png : ImageContainerFormat.Jpeg;
        var manifest = ManifestContainer.Locate(format, signed)!;
        // In a PNG the CRC would catch every flip; re-sealing the chunk makes the manifest checks themselves do the work.
        var (start, length) = format == ImageContainerFormat.Png ? (manifest.Start + 8, manifest.Length - 12) : (manifest.Start, manifest.Length);
        var random = new Random(17);

        for (var attempt = 0; attempt < 300; attempt++)
        {
            var damaged = signed.ToArray();
            var at = start + random.Next(length);
            if (format == ImageContainerFormat.Jpeg && at - manifest.Start is 6 or 7)
            {
                continue; // The APP11 box instance number (En) is the writer's free choice.
            }

            damaged[at] ^= (byte)(1 << random.Next(8));
            if (format == ImageContainerFormat.Png)
            {
                RecomputeManifestCrc(damaged);
            }

            var result = Anchored.Verify(damaged);
            Assert.True(result.State is C2paValidationState.Invalid or C2paValidationState.Absent, $"{mimeType}: flipping a bit at manifest offset {at - start} gave {result.State} near \"{System.Text.Encoding.ASCII.GetString(signed, at - 16, 32).Replace((char)0, (char)46)}\" (byte {signed[at]:X2})");
        }
    }

    [Fact]
    public void A_signer_from_another_authority_is_valid_but_not_trusted()
    {
        var (otherRoot, otherSigner) = LocalCertificateAuthority.Create("elsewhere", DateTimeOffset.UtcNow);
        using var _ = otherRoot;
        using var credentials = new SigningCredentials(otherSigner, [], "other");

        var result = Anchored.Verify(new C2paSigner(credentials).Sign(fixture.Jpeg, SigningFixture.Description));

        Assert.Equal(C2paValidationState.Valid, result.State);
    }

    [Fact]
    public void Without_a_timestamp_a_manifest_stops_validating_when_the_certificate_expires()
    {
        var signed = fixture.Signer.Sign(fixture.Png, SigningFixture.Description);
        var later = new FakeTimeProvider(fixture.Credentials.Signer.NotAfter.AddDays(1));

        var result = new C2paVerifier([fixture.Root], later).Verify(signed);

        Assert.Equal(C2paValidationState.Invalid, result.State);
        Assert.Contains(result.Failures, f => f.Code == "signingCredential.invalid" && f.Explanation.Contains("not valid at", StringComparison.Ordinal));
    }

    [Fact]
    public void A_file_that_already_carries_a_manifest_is_not_signed_twice()
    {
        var signed = fixture.Signer.Sign(fixture.Png, SigningFixture.Description);

        Assert.Throws<InvalidOperationException>(() => fixture.Signer.Sign(signed, SigningFixture.Description));
        Assert.Throws<NotSupportedException>(() => fixture.Signer.Sign(HostileWebp(), SigningFixture.Description));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Manifests_written_by_c2pa_node_are_read_and_trusted(string mimeType)
    {
        var chain = fixture.Credentials.Signer.ExportCertificatePem();
        var key = fixture.Credentials.Signer.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();

        var signed = ContentAuthVerifier.Sign(fixture.Output(mimeType), mimeType, chain, key);
        var result = Anchored.Verify(signed);

        Assert.Equal(C2paValidationState.Trusted, result.State);
        Assert.Equal(C2paSigner.TrainedAlgorithmicMedia, result.DigitalSourceType);
    }

    /// <summary>Keeps the caBX chunk well-formed so that the check under test, not the CRC, catches the change.</summary>
    private static void RecomputeManifestCrc(byte[] png)
    {
        var type = IndependentVerifierTests.IndexOf(png, "caBX"u8.ToArray());
        var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(type - 4));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(type + 4 + length), FluxWeb.Provenance.Imaging.PngCrc.Compute(png.AsSpan(type, 4 + length)));
    }

    private static byte[] HostileWebp()
    {
        using var image = TestImages.Photo(16, 16);
        using var stream = new MemoryStream();
        SixLabors.ImageSharp.ImageExtensions.SaveAsWebp(image, stream);
        return stream.ToArray();
    }
}
