using System.Text;

namespace Redoubt.Server.Monitoring;

/// <summary>
/// ASCII sparklines for LATENCY GRAPH: each sample is a column whose height is drawn over several
/// rows with the characters '_', 'o', '#' (and '|' below the top of a filled column), followed by
/// the sample's label written vertically under a blank spacer row.
/// </summary>
public sealed class Sparkline
{
    private const string FillChars = "_o#";
    private const int LabelMarginTop = 1;

    private readonly List<(double Value, string? Label)> _samples = new();
    private double _min, _max;
    private int _labels;

    public void Add(double value, string? label)
    {
        if (string.IsNullOrEmpty(label)) label = null;
        if (_samples.Count == 0) _min = _max = value;
        else if (value < _min) _min = value;
        else if (value > _max) _max = value;
        _samples.Add((value, label));
        if (label != null) _labels++;
    }

    /// <summary>Renders in chunks of <paramref name="columns"/> samples, <paramref name="rows"/> rows high.</summary>
    public void Render(StringBuilder output, int columns, int rows)
    {
        for (int j = 0; j < _samples.Count; j += columns)
        {
            int len = Math.Min(_samples.Count - j, columns);
            if (j != 0) output.Append('\n');
            RenderRange(output, rows, j, len);
        }
    }

    private void RenderRange(StringBuilder output, int rows, int offset, int len)
    {
        double relmax = _max - _min;
        if (relmax == 0) relmax = 1;
        int steps = FillChars.Length * rows;
        var chars = new char[len];
        int row = 0;
        bool loop = true;
        while (loop)
        {
            loop = false;
            Array.Fill(chars, ' ');
            for (int j = 0; j < len; j++)
            {
                var (value, label) = _samples[j + offset];
                double relval = value - _min;
                int step = (int)((int)(relval * steps) / relmax);
                if (step < 0) step = 0;
                if (step >= steps) step = steps - 1;
                if (row < rows)
                {
                    int charidx = step - (rows - row - 1) * FillChars.Length;
                    loop = true;
                    if (charidx >= 0 && charidx < FillChars.Length) chars[j] = FillChars[charidx];
                    else if (charidx >= FillChars.Length) chars[j] = '|';
                }
                else
                {
                    // One blank row between the graph and the labels.
                    if (_labels > 0 && row - rows < LabelMarginTop)
                    {
                        loop = true;
                        break;
                    }
                    if (label != null)
                    {
                        int labelChar = row - rows - LabelMarginTop;
                        if (label.Length > labelChar)
                        {
                            loop = true;
                            chars[j] = label[labelChar];
                        }
                    }
                }
            }
            if (loop)
            {
                row++;
                output.Append(chars).Append('\n');
            }
        }
    }
}
