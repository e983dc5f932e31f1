namespace MLNetExtensions.Detection.Rcnn;

/// <summary>
/// <c>numpy.argsort(values)</c> of numpy 1.24 for float64 with its default <c>kind='quicksort'</c>, element for
/// element: numpy's introsort (median-of-three quicksort, insertion sort below 16 elements, heapsort past a depth of
/// 2·⌊log2 n⌋). It is not stable, and reproducing its exact order of equal values matters wherever ties decide
/// something (Felzenszwalb's merges). numpy 1.24 has no SIMD argsort for float64, so this order is the same on every
/// CPU; numpy 1.25+ dispatch argsort to AVX-512 kernels and order ties differently there.
/// </summary>
internal static class NumpyArgsort
{
    private const int SmallQuicksort = 15;

    /// <summary>The permutation that sorts <paramref name="values"/> ascending, NaNs last, as numpy orders it.</summary>
    public static int[] Argsort(ReadOnlySpan<double> values)
    {
        // numpy permutes indices and looks each value up; permuting (value, index) pairs with the same comparisons
        // and swaps gives the same permutation with far fewer cache misses.
        var items = new Item[values.Length];
        for (int i = 0; i < items.Length; i++) items[i] = new Item(values[i], i);
        if (items.Length > 1) Sort(items);
        var order = new int[items.Length];
        for (int i = 0; i < order.Length; i++) order[i] = items[i].Index;
        return order;
    }

    private readonly record struct Item(double Value, int Index);

    // numpy's DOUBLE_LT: NaNs compare greater than everything else.
    private static bool Less(double a, double b) => a < b || (double.IsNaN(b) && !double.IsNaN(a));

    private static void Sort(Item[] a)
    {
        int num = a.Length;
        var stack = new int[256];
        var depthStack = new int[128];
        int sptr = 0, psdepth = 0;
        int pl = 0, pr = num - 1;
        int cdepth = MostSignificantBit(num) * 2;
        for (;;)
        {
            if (cdepth < 0)
            {
                Heapsort(a, pl, pr - pl + 1);
            }
            else
            {
                while (pr - pl > SmallQuicksort)
                {
                    int pm = pl + ((pr - pl) >> 1);
                    if (Less(a[pm].Value, a[pl].Value)) Swap(a, pm, pl);
                    if (Less(a[pr].Value, a[pm].Value)) Swap(a, pr, pm);
                    if (Less(a[pm].Value, a[pl].Value)) Swap(a, pm, pl);
                    double vp = a[pm].Value;
                    int pi = pl, pj = pr - 1;
                    Swap(a, pm, pj);
                    for (;;)
                    {
                        do ++pi; while (Less(a[pi].Value, vp));
                        do --pj; while (Less(vp, a[pj].Value));
                        if (pi >= pj) break;
                        Swap(a, pi, pj);
                    }
                    Swap(a, pi, pr - 1);
                    // The larger part goes on the stack, the smaller one is sorted next.
                    if (pi - pl < pr - pi)
                    {
                        stack[sptr++] = pi + 1;
                        stack[sptr++] = pr;
                        pr = pi - 1;
                    }
                    else
                    {
                        stack[sptr++] = pl;
                        stack[sptr++] = pi - 1;
                        pl = pi + 1;
                    }
                    depthStack[psdepth++] = --cdepth;
                }
                for (int pi = pl + 1; pi <= pr; ++pi)
                {
                    Item vi = a[pi];
                    double vp = vi.Value;
                    int pj = pi;
                    while (pj > pl && Less(vp, a[pj - 1].Value))
                    {
                        a[pj] = a[pj - 1];
                        pj--;
                    }
                    a[pj] = vi;
                }
            }
            if (sptr == 0) break;
            pr = stack[--sptr];
            pl = stack[--sptr];
            cdepth = depthStack[--psdepth];
        }
    }

    // numpy's aheapsort_ on a[start .. start + n), 1-based heap indexing.
    private static void Heapsort(Item[] a, int start, int n)
    {
        int b = start - 1;
        for (int l = n >> 1; l > 0; --l)
        {
            Item tmp = a[b + l];
            int i = l;
            for (int j = l << 1; j <= n;)
            {
                if (j < n && Less(a[b + j].Value, a[b + j + 1].Value)) j += 1;
                if (!Less(tmp.Value, a[b + j].Value)) break;
                a[b + i] = a[b + j];
                i = j;
                j += j;
            }
            a[b + i] = tmp;
        }
        for (; n > 1;)
        {
            Item tmp = a[b + n];
            a[b + n] = a[b + 1];
            n -= 1;
            int i = 1;
            for (int j = 2; j <= n;)
            {
                if (j < n && Less(a[b + j].Value, a[b + j + 1].Value)) j++;
                if (!Less(tmp.Value, a[b + j].Value)) break;
                a[b + i] = a[b + j];
                i = j;
                j += j;
            }
            a[b + i] = tmp;
        }
    }

    private static int MostSignificantBit(int n)
    {
        int depth = 0;
        while ((n >>= 1) != 0) depth++;
        return depth;
    }

    private static void Swap(Item[] a, int i, int j) => (a[i], a[j]) = (a[j], a[i]);
}
