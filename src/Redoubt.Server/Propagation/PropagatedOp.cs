namespace Redoubt.Server.Propagation;

/// <summary>One command waiting to be propagated once the current top-level command finishes.</summary>
internal struct PropagatedOp
{
    public int DbId;
    public PropagationTarget Target;
    /// <summary>Start and length of the command's encoding in the stream's pending buffer.</summary>
    public int Offset, Length;
}
