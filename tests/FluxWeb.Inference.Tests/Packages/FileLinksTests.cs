using FluxWeb.Inference.Packages;

namespace FluxWeb.Inference.Tests.Packages;

public sealed class FileLinksTests
{
    [Fact]
    public void A_symbolic_link_is_resolved_so_the_package_holds_the_real_file()
    {
        using var temp = new TempDirectory();
        // The Hugging Face cache layout: snapshots/<commit>/… are links into blobs/.
        var blob = temp.Combine("blobs", "4f2a");
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        File.WriteAllBytes(blob, [1, 2, 3, 4]);
        var snapshot = temp.Combine("snapshots", "abc", "transformer", "diffusion_pytorch_model.safetensors");
        Directory.CreateDirectory(Path.GetDirectoryName(snapshot)!);
        File.CreateSymbolicLink(snapshot, Path.Combine("..", "..", "..", "blobs", "4f2a"));
        var destination = temp.Combine("package", "weights", "transformer", "diffusion_pytorch_model.safetensors");

        var method = FileLinks.HardLinkOrCopy(snapshot, destination);

        Assert.Equal(FileLinks.Method.HardLink, method);
        Assert.Null(new FileInfo(destination).LinkTarget);
        Assert.Equal([1, 2, 3, 4], File.ReadAllBytes(destination));
        File.WriteAllBytes(blob, [9, 9, 9, 9]);
        Assert.Equal([9, 9, 9, 9], File.ReadAllBytes(destination));
    }
}
