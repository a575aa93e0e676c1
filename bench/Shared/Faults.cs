namespace Crhn.Bench;

/// <summary>Page faults, for both benches: a call that reuses its memory in steady state pays none.</summary>
public static class Faults
{
    /// <summary>The process's minor page faults so far (/proc/self/stat, field 10), or −1 where
    /// there is no such file.</summary>
    public static long Minor()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[7], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException) { return -1; }
    }
}
