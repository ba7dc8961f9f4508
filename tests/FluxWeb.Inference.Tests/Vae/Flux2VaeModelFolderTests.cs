using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Vae;
using Microsoft.ML.OnnxRuntime;

namespace FluxWeb.Inference.Tests.Vae;

/// <summary>Where the weight files of a VAE graph may live, as ONNX Runtime 1.31 enforces it.</summary>
public sealed class Flux2VaeModelFolderTests
{
    /// <summary>
    /// A model folder cannot borrow weights from a shared cache through a symbolic link: ONNX
    /// Runtime resolves the link and refuses a target outside the .onnx's folder. Packages must
    /// hold the weight files themselves (a copy, or a hard link on the same file system).
    /// </summary>
    [Fact]
    public void Onnx_runtime_refuses_weights_reached_through_a_symbolic_link_out_of_the_model_folder()
    {
        using var folder = new TempDirectory();
        var link = folder.Combine("vae.safetensors");
        File.CreateSymbolicLink(link, TestFixtures.Path("flux2-tiny", "weights", "vae_bfl.safetensors"));
        var path = folder.Combine("encoder.onnx");
        Flux2VaeGraphs.Save(Flux2VaeGraphs.BuildEncoder(WeightSet.Open(link), Flux2VaeConfig.FixtureTiny, ComputePrecision.Float32, folder.Path), path);

        var error = Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(path).Dispose());

        Assert.Contains("External data path escapes model directory", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Building_for_a_folder_that_does_not_hold_the_weights_fails_before_onnx_runtime_sees_it()
    {
        using var folder = new TempDirectory();
        var weights = WeightSet.Open(TestFixtures.Path("flux2-tiny", "weights", "vae_bfl.safetensors"));

        var error = Assert.Throws<InvalidOperationException>(() => Flux2VaeGraphs.BuildDecoder(weights, Flux2VaeConfig.FixtureTiny, ComputePrecision.Float32, folder.Path));

        Assert.Contains("must be inside the model folder", error.Message, StringComparison.Ordinal);
    }
}
