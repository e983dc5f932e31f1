using System.Text;

namespace MLNetExtensions.Torch;

/// <summary>Reads an ELF64 file's version requirements (.gnu.version_r), to explain a failed native load.</summary>
internal static class ElfVersionNeeds
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>The (name, flags) of each version the file requires.</summary>
    public static List<(string Name, ushort Flags)> Read(string path)
    {
        var b = File.ReadAllBytes(path);
        var result = new List<(string, ushort)>();
        if (b.Length < 64 || b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F' || b[4] != 2) return result;
        long shoff = BitConverter.ToInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A), shnum = BitConverter.ToUInt16(b, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)(shoff + (long)i * shentsize));
            if (BitConverter.ToUInt32(b, sh + 4) != ShtGnuVerneed) continue;
            long vn = BitConverter.ToInt64(b, sh + 0x18);
            uint link = BitConverter.ToUInt32(b, sh + 0x28);
            long str = BitConverter.ToInt64(b, checked((int)(shoff + (long)link * shentsize)) + 0x18);
            while (true)
            {
                int cnt = BitConverter.ToUInt16(b, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(b, (int)vn + 8);
                for (int k = 0; k < cnt; k++)
                {
                    int s = (int)(str + BitConverter.ToUInt32(b, (int)aux + 8)), e = s;
                    while (b[e] != 0) e++;
                    result.Add((Encoding.ASCII.GetString(b, s, e - s), BitConverter.ToUInt16(b, (int)aux + 4)));
                    uint next = BitConverter.ToUInt32(b, (int)aux + 12);
                    if (next == 0) break;
                    aux += next;
                }
                uint vnNext = BitConverter.ToUInt32(b, (int)vn + 12);
                if (vnNext == 0) break;
                vn += vnNext;
            }
        }
        return result;
    }

    /// <summary>True when the file requires <paramref name="version"/> and that requirement is not weak.</summary>
    public static bool RequiresStrictly(string path, string version)
        => Read(path).Any(v => v.Name == version && (v.Flags & VerFlgWeak) == 0);
}
