using Xunit;

namespace Crhn.Tests;

public class ConfigTests
{
    [Fact]
    public void Configs_that_describe_the_same_stack_are_equal_and_hash_alike()
    {
        var a = new CrhnConfig(ConvLayers: new[] { 8, 16 }, DenseLayers: new[] { 128 }, RhnHidden: new[] { 64 });
        var b = new CrhnConfig(ConvLayers: new List<int> { 8, 16 }, DenseLayers: [128], RhnHidden: [64]);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal(new CrhnConfig(), new CrhnConfig(ConvLayers: [16, 32], DenseLayers: [512], RhnHidden: [128]));
    }

    [Fact]
    public void Companion_configs_that_differ_in_one_width_or_the_decoder_are_not_equal()
    {
        var a = new CrhnConfig(ConvLayers: [8, 16]);
        Assert.NotEqual(a, a with { ConvLayers = [8, 17] });
        Assert.NotEqual(a, a with { RhnHidden = [128, 100] });
        Assert.NotEqual(a, a with { UntiedDecoder = true });
    }

    [Fact]
    public void A_config_keeps_its_own_copy_of_the_widths()
    {
        var widths = new[] { 8, 16 };
        var config = new CrhnConfig(ConvLayers: widths);
        widths[0] = 99;
        Assert.Equal([8, 16], config.ConvChannels);
        Assert.Null(config.ConvLayers as int[]);
        var changed = config with { DenseLayers = widths };
        widths[1] = 77;
        Assert.Equal([99, 16], changed.DenseWidths);
    }

    [Fact]
    public void A_config_without_dense_layers_has_no_code_length_and_is_refused_by_Create()
    {
        var config = new CrhnConfig(DenseLayers: []);
        Assert.Equal(0, config.CodeLength);
        Assert.Throws<ArgumentException>(() => CrhnModel.Create(config, 1));
    }
}
