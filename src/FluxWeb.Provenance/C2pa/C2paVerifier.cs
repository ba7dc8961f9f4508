using System.Security.Cryptography;
using System.Security.Cryptography.Cose;
using System.Security.Cryptography.X509Certificates;
using FluxWeb.Provenance.Certificates;
using FluxWeb.Provenance.Decoding;

namespace FluxWeb.Provenance.C2pa;

/// <summary>
/// FluxWeb's own C2PA check for <c>fluxweb verify</c> and the admin page: finds the active manifest, checks the
/// COSE signature over the claim, every hashed assertion URI, the <c>c2pa.hash.data</c> hard binding (whose
/// exclusion must be exactly the embedded manifest), the signing-certificate profile, and the chain to the trust
/// anchors. Ingredient manifests and remote manifests are not followed.
/// </summary>
public sealed class C2paVerifier(IReadOnlyCollection<X509Certificate2> trustAnchors, TimeProvider? timeProvider = null)
{
    private readonly TimeProvider time = timeProvider ?? TimeProvider.System;

    public IReadOnlyCollection<X509Certificate2> TrustAnchors { get; } = trustAnchors;

    public C2paVerification Verify(byte[] asset)
    {
        ImageContainerFormat format;
        ManifestContainer.Located? located;
        try
        {
            format = ManifestContainer.Format(asset);
            located = ManifestContainer.Locate(format, asset);
        }
        catch (NotSupportedException)
        {
            return C2paVerification.Absent;
        }
        catch (FormatException exception)
        {
            return Invalid("manifest.inaccessible", $"The file structure could not be read: {exception.Message}");
        }

        if (located is null)
        {
            return C2paVerification.Absent;
        }

        try
        {
            return VerifyStore(asset, located);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // Files sent to "verify" are hostile: any way the manifest fails to parse is an answer, not a crash.
            return Invalid("claim.malformed", $"The manifest is malformed: {exception.Message}");
        }
    }

    private static C2paVerification Invalid(string code, string explanation) => new(C2paValidationState.Invalid, [new C2paStatus(code, explanation)]);

    private C2paVerification VerifyStore(byte[] asset, ManifestContainer.Located located)
    {
        var store = JumbfNode.Parse(located.Store);
        if (store.ContentType != JumbfTypes.ManifestStore || store.Label != "c2pa")
        {
            return Invalid("claim.malformed", "The embedded JUMBF is not a C2PA manifest store.");
        }

        var manifest = store.Children.LastOrDefault(child => child.ContentType is JumbfTypes.Manifest or "c2um")
            ?? throw new FormatException("The manifest store holds no manifest.");
        var failures = new List<C2paStatus>();
        var claimBox = manifest.Children.FirstOrDefault(child => child.ContentType == JumbfTypes.Claim && child.Label is "c2pa.claim" or "c2pa.claim.v2")
            ?? throw new FormatException("The manifest has no claim.");
        var claimBytes = Payload(located.Store, CborContent(claimBox));
        var claim = Map(CborValue.Decode(claimBytes));
        var signatureBox = manifest.Children.FirstOrDefault(child => child.ContentType == JumbfTypes.Signature && child.Label == "c2pa.signature")
            ?? throw new FormatException("The manifest has no signature.");
        if (Resolve(manifest, claim.GetValueOrDefault("signature") as string) != "c2pa.signature")
        {
            failures.Add(new C2paStatus("claimSignature.missing", "The claim does not point at this manifest's signature."));
        }

        var (signer, chain) = CheckSignature(Payload(located.Store, CborContent(signatureBox)), claimBytes, failures);
        using var signerDisposal = signer;

        var assertionStore = manifest.Children.FirstOrDefault(child => child.ContentType == JumbfTypes.AssertionStore && child.Label == "c2pa.assertions")
            ?? throw new FormatException("The manifest has no assertion store.");
        var references = List(claim.GetValueOrDefault("created_assertions") ?? claim.GetValueOrDefault("assertions"))
            .Concat(List(claim.GetValueOrDefault("gathered_assertions"))).Select(Map).ToList();
        var assertions = new Dictionary<string, object?>();
        foreach (var reference in references)
        {
            var path = Resolve(manifest, reference["url"] as string);
            var label = path?.StartsWith("c2pa.assertions/", StringComparison.Ordinal) == true ? path["c2pa.assertions/".Length..] : null;
            if (label is null || assertionStore.Child(label) is not { } box)
            {
                failures.Add(new C2paStatus("assertion.missing", $"{reference["url"]} is referenced by the claim but not in the manifest."));
                continue;
            }

            var hash = SHA256.HashData(located.Store.AsSpan(box.PayloadStart, box.PayloadLength));
            if (!hash.AsSpan().SequenceEqual((byte[])reference["hash"]!))
            {
                failures.Add(new C2paStatus("assertion.hashedURI.mismatch", $"{label} was changed after signing."));
                continue;
            }

            assertions[label] = box.Content is { Type: "cbor" } content ? CborValue.Decode(Payload(located.Store, content)) : null;
        }

        CheckHardBinding(asset, located, assertions.GetValueOrDefault("c2pa.hash.data"), failures);
        var verification = Describe(manifest, claim, assertions, signer);
        if (failures.Count > 0 || signer is null)
        {
            return verification with { State = C2paValidationState.Invalid, Failures = failures };
        }

        return verification with { State = ChainsToAnchor(signer, chain) ? C2paValidationState.Trusted : C2paValidationState.Valid };
    }

    private (X509Certificate2? Signer, List<X509Certificate2> Chain) CheckSignature(byte[] signature, byte[] claimBytes, List<C2paStatus> failures)
    {
        var message = CoseMessage.DecodeSign1(signature);
        var chain = new List<X509Certificate2>();
        if (!message.ProtectedHeaders.TryGetValue(new CoseHeaderLabel(33), out var x5chain) && !message.UnprotectedHeaders.TryGetValue(new CoseHeaderLabel(33), out x5chain))
        {
            failures.Add(new C2paStatus("claimSignature.missing", "The signature carries no certificate (x5chain)."));
            return (null, chain);
        }

        var certificates = CborValue.Decode(x5chain.EncodedValue) switch
        {
            byte[] single => [single],
            List<object?> many => many.Cast<byte[]>().ToList(),
            _ => throw new FormatException("x5chain is neither a certificate nor a list of certificates."),
        };
        chain.AddRange(certificates.Select(der => X509CertificateLoader.LoadCertificate(der)));
        var signer = chain[0];
        using var ecdsa = signer.GetECDsaPublicKey();
        using var rsa = ecdsa is null ? signer.GetRSAPublicKey() : null;
        var verified = ecdsa is not null ? message.VerifyDetached(ecdsa, claimBytes) : rsa is not null && message.VerifyDetached(rsa, claimBytes);
        if (!verified)
        {
            failures.Add(new C2paStatus("claimSignature.mismatch", "The claim signature does not match the claim."));
        }

        foreach (var problem in C2paCertificateProfile.Problems(signer, time.GetUtcNow()))
        {
            failures.Add(new C2paStatus("signingCredential.invalid", $"Signing certificate {problem}."));
        }

        return (signer, chain);
    }

    private static void CheckHardBinding(byte[] asset, ManifestContainer.Located located, object? hashData, List<C2paStatus> failures)
    {
        if (hashData is not IReadOnlyDictionary<string, object?> binding)
        {
            failures.Add(new C2paStatus("claim.hardBindings.missing", "The manifest has no c2pa.hash.data hard binding."));
            return;
        }

        var exclusions = List(binding.GetValueOrDefault("exclusions")).Select(Map).Select(e => (Start: (long)e["start"]!, Length: (long)e["length"]!)).ToList();
        if (exclusions is not [var exclusion] || exclusion.Start != located.Start || exclusion.Length != located.Length)
        {
            failures.Add(new C2paStatus("assertion.dataHash.mismatch", "The hard binding must exclude exactly the embedded manifest."));
            return;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(asset, 0, located.Start);
        hash.AppendData(asset, located.Start + located.Length, asset.Length - located.Start - located.Length);
        if (!hash.GetHashAndReset().AsSpan().SequenceEqual((byte[])binding["hash"]!))
        {
            failures.Add(new C2paStatus("assertion.dataHash.mismatch", "The image bytes were changed after signing."));
        }
    }

    private bool ChainsToAnchor(X509Certificate2 signer, List<X509Certificate2> chain)
    {
        if (TrustAnchors.Count == 0)
        {
            return false;
        }

        using var builder = new X509Chain();
        builder.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        builder.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        builder.ChainPolicy.VerificationTime = time.GetUtcNow().UtcDateTime;
        builder.ChainPolicy.CustomTrustStore.AddRange(TrustAnchors.ToArray());
        builder.ChainPolicy.ExtraStore.AddRange(chain.Skip(1).ToArray());
        return builder.Build(signer);
    }

    private static C2paVerification Describe(JumbfNode manifest, Dictionary<string, object?> claim, Dictionary<string, object?> assertions, X509Certificate2? signer)
    {
        var generator = claim.GetValueOrDefault("claim_generator_info") switch
        {
            IReadOnlyDictionary<string, object?> info => $"{info.GetValueOrDefault("name")} {info.GetValueOrDefault("version")}".Trim(),
            List<object?> { Count: > 0 } infos when infos[0] is IReadOnlyDictionary<string, object?> info => $"{info.GetValueOrDefault("name")} {info.GetValueOrDefault("version")}".Trim(),
            _ => claim.GetValueOrDefault("claim_generator") as string,
        };
        var created = assertions.Where(a => a.Key.StartsWith("c2pa.actions", StringComparison.Ordinal))
            .SelectMany(a => List(Map(a.Value).GetValueOrDefault("actions"))).Select(Map)
            .FirstOrDefault(action => action.GetValueOrDefault("action") as string == "c2pa.created");
        var model = created?.GetValueOrDefault("softwareAgent") is IReadOnlyDictionary<string, object?> agent && agent.GetValueOrDefault("org.fluxweb.model") is IReadOnlyDictionary<string, object?> m ? m : null;
        var ingredients = assertions.Where(a => a.Key.StartsWith("c2pa.ingredient", StringComparison.Ordinal)).Select(a => Map(a.Value))
            .Select(i => new C2paIngredient(i.GetValueOrDefault("dc:title") as string, i.GetValueOrDefault("dc:format") as string, i.GetValueOrDefault("instanceID") as string, i.GetValueOrDefault("relationship") as string, i.ContainsKey("thumbnail")))
            .ToList();
        return new C2paVerification(C2paValidationState.Valid, [])
        {
            ManifestLabel = manifest.Label,
            ClaimGenerator = generator,
            Title = claim.GetValueOrDefault("dc:title") as string,
            DigitalSourceType = created?.GetValueOrDefault("digitalSourceType") as string,
            ModelId = model?.GetValueOrDefault("id") as string,
            ModelLicence = model?.GetValueOrDefault("licence") as string,
            Ingredients = ingredients,
            Signer = signer?.GetNameInfo(X509NameType.SimpleName, false),
            SignerIssuer = signer?.GetNameInfo(X509NameType.SimpleName, true),
        };
    }

    /// <summary>A JUMBF URI relative to the manifest ("c2pa.assertions/x"), or null when it points elsewhere.</summary>
    private static string? Resolve(JumbfNode manifest, string? uri)
    {
        const string prefix = "self#jumbf=";
        if (uri is null || !uri.StartsWith(prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var path = uri[prefix.Length..];
        var absolute = $"/c2pa/{manifest.Label}/";
        return path.StartsWith(absolute, StringComparison.Ordinal) ? path[absolute.Length..] : path.StartsWith('/') ? null : path;
    }

    private static JumbfNode CborContent(JumbfNode superBox) =>
        superBox.Children is [_, ..] && superBox.Content is { Type: "cbor" } content ? content : throw new FormatException($"{superBox.Label} holds no CBOR box.");

    private static byte[] Payload(byte[] store, JumbfNode box) => store.AsSpan(box.PayloadStart, box.PayloadLength).ToArray();

    private static Dictionary<string, object?> Map(object? value) =>
        value as Dictionary<string, object?> ?? throw new FormatException("Expected a CBOR map.");

    private static List<object?> List(object? value) => value as List<object?> ?? [];
}
