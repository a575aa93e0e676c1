using System.Globalization;
using System.Net;
using System.Text;

namespace Crhn.Cli.Experiments;

/// <summary>One line of a plot: its name and its points.</summary>
internal sealed record Series(string Name, double[] X, double[] Y);

/// <summary>Line plots as standalone SVG (no plotting library is reachable here): axes with ticks,
/// one coloured polyline with markers per series, a legend.</summary>
internal static class Svg
{
    private static readonly string[] Colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>A line plot; the y axis starts at 0 unless <paramref name="yFromZero"/> is false (then at the lowest value).</summary>
    public static string LinePlot(string title, string xLabel, string yLabel, IReadOnlyList<Series> series, int width = 520, int height = 360, bool yFromZero = true)
    {
        const double left = 70, right = 150, top = 40, bottom = 50;
        var xs = series.SelectMany(s => s.X).Where(double.IsFinite).ToArray();
        var ys = series.SelectMany(s => s.Y).Where(double.IsFinite).ToArray();
        double x0 = xs.Length > 0 ? xs.Min() : 0, x1 = xs.Length > 0 ? xs.Max() : 1;
        double y0 = yFromZero || ys.Length == 0 ? 0 : ys.Min(), y1 = ys.Length > 0 ? ys.Max() : 1;
        y1 += 0.08 * (y1 - y0);
        if (x1 <= x0) x1 = x0 + 1;
        if (y1 <= y0) y1 = y0 + 1;
        double plotW = width - left - right, plotH = height - top - bottom;
        string Px(double x) => (left + (x - x0) / (x1 - x0) * plotW).ToString("0.0", Inv);
        string Py(double y) => (top + plotH - (y - y0) / (y1 - y0) * plotH).ToString("0.0", Inv);
        var sb = new StringBuilder();
        sb.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
        sb.Append(Inv, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>");
        sb.Append(Inv, $"<text x=\"{width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{WebUtility.HtmlEncode(title)}</text>");
        for (int i = 0; i <= 4; i++)
        {
            double y = y0 + (y1 - y0) * i / 4, x = x0 + (x1 - x0) * i / 4;
            sb.Append(Inv, $"<line x1=\"{left}\" x2=\"{left + plotW}\" y1=\"{Py(y)}\" y2=\"{Py(y)}\" stroke=\"#ddd\"/>");
            sb.Append(Inv, $"<text x=\"{left - 6}\" y=\"{Py(y)}\" text-anchor=\"end\" dominant-baseline=\"middle\">{y.ToString("0.###", Inv)}</text>");
            sb.Append(Inv, $"<text x=\"{Px(x)}\" y=\"{top + plotH + 16}\" text-anchor=\"middle\">{x.ToString("0.###", Inv)}</text>");
        }
        sb.Append(Inv, $"<rect x=\"{left}\" y=\"{top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"black\"/>");
        sb.Append(Inv, $"<text x=\"{left + plotW / 2}\" y=\"{height - 10}\" text-anchor=\"middle\">{WebUtility.HtmlEncode(xLabel)}</text>");
        sb.Append(Inv, $"<text transform=\"translate(16 {top + plotH / 2}) rotate(-90)\" text-anchor=\"middle\">{WebUtility.HtmlEncode(yLabel)}</text>");
        for (int k = 0; k < series.Count; k++)
        {
            var s = series[k];
            string colour = Colours[k % Colours.Length];
            var points = Enumerable.Range(0, s.X.Length).Where(i => double.IsFinite(s.Y[i])).Select(i => $"{Px(s.X[i])},{Py(s.Y[i])}").ToArray();
            sb.Append(Inv, $"<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{string.Join(" ", points)}\"/>");
            foreach (var p in points)
            {
                var xy = p.Split(',');
                sb.Append(Inv, $"<circle cx=\"{xy[0]}\" cy=\"{xy[1]}\" r=\"3\" fill=\"{colour}\"/>");
            }
            double ly = top + 12 + 18 * k;
            sb.Append(Inv, $"<line x1=\"{left + plotW + 12}\" x2=\"{left + plotW + 32}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"2\"/>");
            sb.Append(Inv, $"<text x=\"{left + plotW + 38}\" y=\"{ly}\" dominant-baseline=\"middle\">{WebUtility.HtmlEncode(s.Name)}</text>");
        }
        sb.Append("</svg>");
        return sb.ToString();
    }
}
