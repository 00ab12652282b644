namespace Redoubt.Server.Scripting;

/// <summary>
/// The thread top-level scripts run on, so that a script running past busy-reply-threshold does not
/// stop the server: other clients are answered -BUSY and SCRIPT KILL can reach it.
///
/// Commands are read and executed on the one socket thread (see docs/architecture.md); a script run on
/// it would keep every other connection waiting for as long as it runs. So the socket thread hands the
/// script to this thread and waits, holding the server lock on its behalf ("attached"): the script's
/// commands run without taking the lock, as if on the socket thread itself. When the wait reaches the
/// threshold, the socket thread "detaches": it leaves the script's client blocked and goes back to
/// serving others, and from then on the script takes the server lock around each command and for its
/// completion. The switch is made under <see cref="_delegation"/>, which the script holds while it
/// executes a command attached, so it never happens in the middle of one.
/// </summary>
internal sealed class ScriptThread
{
    /// <summary>Stack for the script thread: deep Lua recursion goes through C frames.</summary>
    private const int StackBytes = 16 * 1024 * 1024;

    private readonly RedisServer _server;
    private readonly Thread _thread;
    private readonly SemaphoreSlim _go = new(0);
    private readonly ManualResetEventSlim _done = new(false, 100);
    private readonly Lock _delegation = new();
    private Action? _work;
    private Action? _completeDetached;
    private bool _finished;
    private bool _detached;

    public ScriptThread(RedisServer server)
    {
        _server = server;
        _thread = new Thread(Loop, StackBytes) { IsBackground = true, Name = "script" };
        _thread.Start();
    }

    public bool IsCurrentThread => Thread.CurrentThread == _thread;

    /// <summary>
    /// Runs <paramref name="work"/> here while the caller (holding the server lock) waits up to
    /// <paramref name="timeoutMs"/>. True when it finished; false when it is still running, in which
    /// case the run is detached and <paramref name="completeDetached"/> runs here, under the server lock,
    /// once it ends.
    /// </summary>
    public bool Run(Action work, long timeoutMs, Action completeDetached)
    {
        _done.Reset();
        _finished = false;
        _detached = false;
        _work = work;
        _completeDetached = completeDetached;
        _go.Release();
        if (_done.Wait(TimeSpan.FromMilliseconds(Math.Min(timeoutMs, int.MaxValue)))) return true;
        lock (_delegation)
        {
            if (_finished) return true;
            _detached = true;
        }
        return false;
    }

    /// <summary>
    /// Before the script touches server state: attached, holds the delegation lock (the socket thread
    /// waits with the server lock); detached, takes the server lock. Returns what <see cref="Leave"/> releases.
    /// </summary>
    public bool Enter()
    {
        _delegation.Enter();
        if (!_detached) return false;
        _delegation.Exit();
        _server.Sync.Enter();
        return true;
    }

    public void Leave(bool tookServerLock)
    {
        if (tookServerLock) _server.Sync.Exit();
        else _delegation.Exit();
    }

    private void Loop()
    {
        while (true)
        {
            _go.Wait();
            try { _work!(); }
            catch (Exception e) { _server.Log.Warning("Unexpected error in a script: " + e); }
            bool detached;
            lock (_delegation)
            {
                _finished = true;
                detached = _detached;
            }
            if (!detached)
            {
                _done.Set();
                continue;
            }
            _server.Sync.Enter();
            try { _completeDetached!(); }
            catch (Exception e) { _server.Log.Warning("Unexpected error completing a script: " + e); }
            finally { _server.Sync.Exit(); }
        }
    }
}
