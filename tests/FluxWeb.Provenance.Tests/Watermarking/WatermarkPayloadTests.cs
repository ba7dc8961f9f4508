using FluxWeb.Provenance.Watermarking;

namespace FluxWeb.Provenance.Tests.Watermarking;

public sealed class WatermarkPayloadTests
{
    [Fact]
    public void A_payload_survives_its_bit_form()
    {
        var payload = WatermarkPayload.Create(0xBEEF, 123_456_789);

        var bits = payload.ToBits();

        Assert.Equal(64, bits.Length);
        Assert.Equal(payload, WatermarkPayload.TryParse(bits));
        Assert.Equal("0001", WatermarkBits.ToString(bits)[..4]);
    }

    [Fact]
    public void Every_single_bit_error_is_rejected()
    {
        var bits = WatermarkPayload.Create(0x1234, 42).ToBits();

        for (var i = 0; i < bits.Length; i++)
        {
            var damaged = bits.ToArray();
            damaged[i] = !damaged[i];
            Assert.Null(WatermarkPayload.TryParse(damaged));
        }
    }

    [Fact]
    public void Flat_and_random_bit_patterns_do_not_read_as_a_payload()
    {
        var random = new Random(3);
        var accepted = 0;
        for (var i = 0; i < 200_000; i++)
        {
            var bits = Enumerable.Range(0, 64).Select(_ => random.Next(2) == 1).ToArray();
            accepted += WatermarkPayload.TryParse(bits) is null ? 0 : 1;
        }

        Assert.Null(WatermarkPayload.TryParse(new bool[64]));
        Assert.Null(WatermarkPayload.TryParse(Enumerable.Repeat(true, 64).ToArray()));
        Assert.InRange(accepted, 0, 3);
    }

    [Fact]
    public void The_installation_tag_is_a_stable_hash_and_serials_wrap_at_28_bits()
    {
        Assert.Equal(WatermarkPayload.TagFor("install-a"), WatermarkPayload.TagFor("install-a"));
        Assert.NotEqual(WatermarkPayload.TagFor("install-a"), WatermarkPayload.TagFor("install-b"));
        Assert.Equal(5u, WatermarkPayload.Create(1, (1L << 28) + 5).Serial);
    }
}
