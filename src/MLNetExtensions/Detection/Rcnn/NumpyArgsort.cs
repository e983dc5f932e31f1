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
        var order = new int[values.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (order.Length > 1) Sort(values, order);
        return order;
    }

    // numpy's DOUBLE_LT: NaNs compare greater than everything else.
    private static bool Less(double a, double b) => a < b || (b != b && a == a);

    private static void Sort(ReadOnlySpan<double> v, int[] a)
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
                Heapsort(v, a, pl, pr - pl + 1);
            }
            else
            {
                while (pr - pl > SmallQuicksort)
                {
                    int pm = pl + ((pr - pl) >> 1);
                    if (Less(v[a[pm]], v[a[pl]])) Swap(a, pm, pl);
                    if (Less(v[a[pr]], v[a[pm]])) Swap(a, pr, pm);
                    if (Less(v[a[pm]], v[a[pl]])) Swap(a, pm, pl);
                    double vp = v[a[pm]];
                    int pi = pl, pj = pr - 1;
                    Swap(a, pm, pj);
                    for (;;)
                    {
                        do ++pi; while (Less(v[a[pi]], vp));
                        do --pj; while (Less(vp, v[a[pj]]));
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
                    int vi = a[pi];
                    double vp = v[vi];
                    int pj = pi;
                    while (pj > pl && Less(vp, v[a[pj - 1]]))
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
    private static void Heapsort(ReadOnlySpan<double> v, int[] a, int start, int n)
    {
        int b = start - 1;
        for (int l = n >> 1; l > 0; --l)
        {
            int tmp = a[b + l];
            int i = l;
            for (int j = l << 1; j <= n;)
            {
                if (j < n && Less(v[a[b + j]], v[a[b + j + 1]])) j += 1;
                if (!Less(v[tmp], v[a[b + j]])) break;
                a[b + i] = a[b + j];
                i = j;
                j += j;
            }
            a[b + i] = tmp;
        }
        for (; n > 1;)
        {
            int tmp = a[b + n];
            a[b + n] = a[b + 1];
            n -= 1;
            int i = 1;
            for (int j = 2; j <= n;)
            {
                if (j < n && Less(v[a[b + j]], v[a[b + j + 1]])) j++;
                if (!Less(v[tmp], v[a[b + j]])) break;
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

    private static void Swap(int[] a, int i, int j) => (a[i], a[j]) = (a[j], a[i]);
}
