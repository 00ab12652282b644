namespace Redoubt.Server.Storage;

/// <summary>
/// Redis's partial sort for SORT ... LIMIT and GEO searches with COUNT: Bentley and McIlroy's
/// three-way quicksort (median-of-three pivots, ninther above 40 elements, insertion sort below 7)
/// that skips the partitions lying wholly outside the wanted index range. The algorithm is not
/// stable: elements that compare equal come out in the order these exact steps leave them, so
/// reproducing Redis's replies for ties needs the same steps, which is why this is not Array.Sort.
/// </summary>
public static class PartialQuickSort
{
    /// <summary>
    /// Sorts <paramref name="items"/> enough that positions <paramref name="from"/>..<paramref name="to"/>
    /// (inclusive; <paramref name="to"/> may be <paramref name="from"/> - 1 for an empty range) hold
    /// what a full sort would put there.
    /// </summary>
    public static void Sort<T>(Span<T> items, Comparison<T> cmp, long from, long to)
        => Run(items, 0, items.Length, cmp, from, to + 1);

    /// <summary>
    /// Sorts items[a, a + n). <paramref name="lo"/>..<paramref name="hiExcl"/> is the wanted range
    /// (absolute); a partition is skipped when the range lies wholly before or wholly after it.
    /// </summary>
    private static void Run<T>(Span<T> items, int a, int n, Comparison<T> cmp, long lo, long hiExcl)
    {
        while (true)
        {
            if (n < 7)
            {
                for (int m = a + 1; m < a + n; m++)
                    for (int l = m; l > a && cmp(items[l - 1], items[l]) > 0; l--)
                        Swap(items, l, l - 1);
                return;
            }
            int pm = a + n / 2;
            if (n > 7)
            {
                int pl = a, pn = a + n - 1;
                if (n > 40)
                {
                    int d = n / 8;
                    pl = Median3(items, pl, pl + d, pl + 2 * d, cmp);
                    pm = Median3(items, pm - d, pm, pm + d, cmp);
                    pn = Median3(items, pn - 2 * d, pn - d, pn, cmp);
                }
                pm = Median3(items, pl, pm, pn, cmp);
            }
            Swap(items, a, pm);
            int pa = a + 1, pb = a + 1;
            int pc = a + n - 1, pd = a + n - 1;
            while (true)
            {
                int r;
                while (pb <= pc && (r = cmp(items[pb], items[a])) <= 0)
                {
                    if (r == 0)
                    {
                        Swap(items, pa, pb);
                        pa++;
                    }
                    pb++;
                }
                while (pb <= pc && (r = cmp(items[pc], items[a])) >= 0)
                {
                    if (r == 0)
                    {
                        Swap(items, pc, pd);
                        pd--;
                    }
                    pc--;
                }
                if (pb > pc) break;
                Swap(items, pb, pc);
                pb++;
                pc--;
            }

            int end = a + n;
            int s = Math.Min(pa - a, pb - pa);
            VecSwap(items, a, pb - s, s);
            s = Math.Min(pd - pc, end - pd - 1);
            VecSwap(items, pb, end - s, s);

            int left = pb - pa;
            if (left > 1 && Overlaps(a, left, lo, hiExcl)) Run(items, a, left, cmp, lo, hiExcl);
            int right = pd - pc;
            if (right <= 1) return;
            a = end - right;
            n = right;
            if (!Overlaps(a, n, lo, hiExcl)) return;
        }
    }

    /// <summary>False when the wanted range lies wholly before or wholly after items[start, start + count).</summary>
    private static bool Overlaps(long start, long count, long lo, long hiExcl)
        => !((lo < start && hiExcl <= start) || (lo >= start + count && hiExcl > start + count));

    private static int Median3<T>(Span<T> items, int a, int b, int c, Comparison<T> cmp)
        => cmp(items[a], items[b]) < 0
            ? (cmp(items[b], items[c]) < 0 ? b : (cmp(items[a], items[c]) < 0 ? c : a))
            : (cmp(items[b], items[c]) > 0 ? b : (cmp(items[a], items[c]) < 0 ? a : c));

    private static void Swap<T>(Span<T> items, int i, int j) => (items[i], items[j]) = (items[j], items[i]);

    private static void VecSwap<T>(Span<T> items, int i, int j, int count)
    {
        for (int k = 0; k < count; k++) Swap(items, i + k, j + k);
    }
}
