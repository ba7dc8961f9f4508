using System.Text.Json;
using FluxWeb.Provenance.C2pa;
using FluxWeb.Provenance.Decoding;
using FluxWeb.Provenance.Filters;
using FluxWeb.Provenance.Inspection;
using FluxWeb.Provenance.Marking;
using FluxWeb.Provenance.Tests.C2pa;
using FluxWeb.Provenance.Tests.Decoding;
using FluxWeb.Provenance.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace FluxWeb.Provenance.Tests.Inspection;

/// <summary>The library as a host wires it: AddProvenance, configuration sections, mark an output, verify it.</summary>
public sealed class ProvenanceServicesTests : IDisposable
{
    private readonly TempDataFolder data = new();

    [Theory]
    [InlineData(OutputEncoding.Png, "image/png")]
    [InlineData(OutputEncoding.Jpeg, "image/jpeg")]
    public async Task A_marked_output_verifies_with_its_serial_and_a_trusted_manifest(OutputEncoding encoding, string mimeType)
    {
        using var host = await StartAsync();
        using var output = TestImages.Photo(512, 384, seed: 21);

        var bytes = host.Services.GetRequiredService<OutputMarker>().Mark(output, encoding, 9001, SigningFixture.Description);
        var report = await host.Services.GetRequiredService<ProvenanceInspector>().InspectAsync(new MemoryStream(bytes), "download.png") with { Job = "job-9001" };
        var json = JsonDocument.Parse(report.ToJson()).RootElement;

        Assert.True(json.GetProperty("watermark").GetProperty("present").GetBoolean());
        Assert.Equal(64, json.GetProperty("watermark").GetProperty("bits").GetString()!.Length);
        Assert.Equal(9001, json.GetProperty("watermark").GetProperty("serial").GetInt64());
        Assert.Equal("job-9001", json.GetProperty("watermark").GetProperty("job").GetString());
        Assert.True(json.GetProperty("watermark").GetProperty("thisInstallation").GetBoolean());
        Assert.Equal("Trusted", json.GetProperty("c2pa").GetProperty("state").GetString());
        Assert.Equal("black-forest-labs/FLUX.2-klein-4B", json.GetProperty("c2pa").GetProperty("model").GetString());
        Assert.Equal(2, json.GetProperty("c2pa").GetProperty("ingredients").GetArrayLength());
        var rootPem = File.ReadAllText(Path.Combine(data.Path, "keys", "c2pa", "root-ca.pem"));
        Assert.Equal("Trusted", ContentAuthVerifier.Verify(bytes, mimeType, rootPem).GetProperty("validation_state").GetString());
    }

    [Fact]
    public async Task Verifying_before_anything_was_signed_still_trusts_the_local_root_created_on_first_run()
    {
        using var host = await StartAsync();
        var inspector = host.Services.GetRequiredService<ProvenanceInspector>();
        using var output = TestImages.Photo(300, 300);

        var bytes = host.Services.GetRequiredService<OutputMarker>().Mark(output, OutputEncoding.Png, 1, SigningFixture.Description);

        Assert.Equal(C2paValidationState.Trusted, inspector.Inspect(bytes).C2pa.State);
    }

    [Fact]
    public async Task An_unmarked_file_reports_absent_marks_and_a_hostile_one_reports_why()
    {
        using var host = await StartAsync();
        var inspector = host.Services.GetRequiredService<ProvenanceInspector>();
        using var photo = TestImages.Photo(400, 300);

        var plain = JsonDocument.Parse(inspector.Inspect(TestImages.Png(photo)).ToJson()).RootElement;
        var hostile = inspector.Inspect(HostileImages.PngBomb(16_000, 16_000));

        Assert.False(plain.GetProperty("watermark").GetProperty("present").GetBoolean());
        Assert.Equal("Absent", plain.GetProperty("c2pa").GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, plain.GetProperty("watermark").GetProperty("job").ValueKind);
        Assert.Null(hostile.Watermark);
        Assert.Contains("16000×16000", hostile.WatermarkError, StringComparison.Ordinal);
        Assert.Equal(C2paValidationState.Absent, hostile.C2pa.State);
    }

    [Fact]
    public async Task Sections_bind_and_filtering_is_off_without_a_classifier()
    {
        using var host = await StartAsync(new()
        {
            ["Provenance:Decoding:MaxWidth"] = "1024",
            ["Provenance:Filters:BlockedTerms:0"] = "gore",
            ["Provenance:Filters:OutputAction"] = "Block",
            ["Provenance:Watermark:InstallationId"] = "configured-id",
        });

        Assert.Equal(1024, host.Services.GetRequiredService<IOptions<ImageDecodingOptions>>().Value.MaxWidth);
        Assert.True(host.Services.GetRequiredService<PromptFilter>().Check("g0re").Blocked);
        Assert.Equal(ContentAction.Block, host.Services.GetRequiredService<IOptions<ContentFilterOptions>>().Value.OutputAction);
        Assert.False(host.Services.GetRequiredService<ImageContentFilter>().Status.Enabled);
        Assert.Equal("configured-id", host.Services.GetRequiredService<FluxWeb.Provenance.Watermarking.InstallationIdentity>().Id);
        Assert.False(File.Exists(Path.Combine(data.Path, "keys", "installation-id")));
    }

    [Theory]
    [InlineData("Provenance:Decoding:MaxWidth", "0")]
    [InlineData("Provenance:Filters:ImageThreshold", "1.5")]
    [InlineData("Provenance:C2pa:CertificateChainPath", "/only/half/of/the/pair.pem")]
    public async Task Invalid_settings_stop_the_start(string key, string value)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new() { [key] = value }));

        Assert.NotEmpty(error.Failures);
    }

    public void Dispose() => data.Dispose();

    private async Task<IHost> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["FluxWeb:DataDirectory"] = data.Path });
        builder.Configuration.AddInMemoryCollection(settings ?? []);
        builder.Services.AddLogging();
        builder.Services.AddProvenance();
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }
}
