namespace MLNetExtensions.Tests.Notebooks;

/// <summary>
/// What the .NET Interactive C# kernel gives every cell that the runner must give too: <c>display(value)</c>, which
/// shows a value and returns a handle whose <c>Update</c> replaces it. Script code sees these members unqualified.
/// </summary>
public sealed class NotebookGlobals
{
    internal List<NotebookOutput> Outputs { get; } = new();
    internal int CurrentCell { get; set; }

#pragma warning disable IDE1006 // the kernel's name
    /// <summary>Shows <paramref name="value"/> under the current cell (the kernel's <c>display</c>).</summary>
    public DisplayedValue display(object? value, params string[] mimeTypes)
#pragma warning restore IDE1006
    {
        var output = NotebookOutput.Format(CurrentCell, value);
        Outputs.Add(output);
        return new DisplayedValue(this, Outputs.Count - 1);
    }

    /// <summary>A shown value that can be replaced in place (progress text, for example).</summary>
    public sealed class DisplayedValue
    {
        private readonly NotebookGlobals _owner;
        private readonly int _index;
        internal DisplayedValue(NotebookGlobals owner, int index) { _owner = owner; _index = index; }

        public void Update(object? value) => _owner.Outputs[_index] = NotebookOutput.Format(_owner.Outputs[_index].Cell, value);
    }
}
