using FluxWeb.Provenance.C2pa;
using FluxWeb.Provenance.Certificates;
using FluxWeb.Provenance.Decoding;
using FluxWeb.Provenance.Filters;
using FluxWeb.Provenance.Inspection;
using FluxWeb.Provenance.Marking;
using FluxWeb.Provenance.Watermarking;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Provenance;

public static class ProvenanceServiceCollectionExtensions
{
    /// <summary>Safe decoding, content filters, invisible watermark and C2PA signing/verification.</summary>
    public static IServiceCollection AddProvenance(this IServiceCollection services)
    {
        services.AddOptions<ProvenanceStorageOptions>().BindConfiguration(ProvenanceStorageOptions.SectionName)
            .Validate(o => !string.IsNullOrWhiteSpace(o.DataDirectory), "FluxWeb:DataDirectory must not be empty.")
            .ValidateOnStart();
        services.AddOptions<ImageDecodingOptions>().BindConfiguration(ImageDecodingOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<WatermarkOptions>().BindConfiguration(WatermarkOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<ContentFilterOptions>().BindConfiguration(ContentFilterOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<C2paOptions>().BindConfiguration(C2paOptions.SectionName)
            .Validate(
                o => string.IsNullOrWhiteSpace(o.CertificateChainPath) == string.IsNullOrWhiteSpace(o.PrivateKeyPath),
                "Provenance:C2pa:CertificateChainPath and Provenance:C2pa:PrivateKeyPath must be given together.")
            .Validate(o => !(o.HasPfx && o.HasPemPair), "Provenance:C2pa: give either PfxPath or the PEM pair, not both.")
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<SafeImageDecoder>();
        services.AddSingleton(sp => InstallationIdentity.Resolve(
            sp.GetRequiredService<IOptions<WatermarkOptions>>(), sp.GetRequiredService<IOptions<ProvenanceStorageOptions>>(), sp.GetRequiredService<ILogger<InstallationIdentity>>()));
        services.AddSingleton<InvisibleWatermarker>();
        services.AddSingleton<SigningCredentialStore>();
        services.AddSingleton<ContentCredentials>();
        services.AddSingleton(sp =>
        {
            var store = sp.GetRequiredService<SigningCredentialStore>();
            if (sp.GetRequiredService<IOptions<C2paOptions>>().Value.Enabled)
            {
                // Creates the local CA on a first run, so that its root is among the anchors from the start.
                store.GetCredentials();
            }

            return new C2paVerifier(store.LoadTrustAnchors(), sp.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton<ProvenanceInspector>();
        services.AddSingleton<OutputMarker>();

        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ContentFilterOptions>>();
            var path = options.Value.PromptClassifierPath;
            return new PromptFilter(options, string.IsNullOrWhiteSpace(path) ? null : new OnnxPromptClassifier(Path.GetFullPath(path)));
        });
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ContentFilterOptions>>();
            var folder = sp.GetRequiredService<IOptions<ProvenanceStorageOptions>>().Value.ResolveClassifiersDirectory(options.Value);
            var (classifier, status) = ImageClassifierLoader.Load(options.Value, folder);
            return new ImageContentFilter(options, classifier, status);
        });
        return services;
    }
}
