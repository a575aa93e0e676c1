using Xunit;
using Xunit.Abstractions;

namespace Crhn.Tests;

/// <summary>Fashion-MNIST for the tests that need real images: CI installs Debian's
/// dataset-fashion-mnist and sets CRHN_REQUIRE_FASHION_MNIST=1, where its absence fails; elsewhere
/// a test without it says so in its output instead of passing silently.</summary>
internal static class FashionMnistData
{
    public static ImageBatch? LoadOrReport(int count, ITestOutputHelper output)
    {
        var images = ImageBatch.FashionMnist(count);
        if (images is null)
        {
            var message = "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): this test checked nothing.";
            Assert.False(Environment.GetEnvironmentVariable("CRHN_REQUIRE_FASHION_MNIST") == "1", message);
            output.WriteLine(message);
        }
        return images;
    }
}
