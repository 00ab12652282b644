using System.Diagnostics;
using Redoubt.Server;

namespace Redoubt;

/// <summary>
/// `redoubt up`: brings up the local deployment on defaults: a master on 127.0.0.1:6379 and two
/// replicas of it on the next two ports, each keeping its data under ./var/&lt;port&gt;. The master runs
/// in this process (signals reach it, its log is this process's output); the replicas are child
/// processes, stopped when the master stops. `--port N` moves the whole deployment to N, N+1, N+2;
/// other arguments go to the master. Sentinels, the proxy and the virtual IP join as their roles land.
/// </summary>
internal static class Up
{
    /// <summary>How many replicas follow the master.</summary>
    public const int Replicas = 2;

    /// <summary>How long stopped replicas get to save and exit before they are killed.</summary>
    private const int ReplicaStopTimeoutMs = 10_000;

    public static int Run(string[] args)
    {
        int port = 6379;
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--port" && i + 1 < args.Length && int.TryParse(args[i + 1], out int p) && p > 0 && p + Replicas <= 65535)
            {
                port = p;
                i++;
            }
            else rest.Add(args[i]);
        }
        var replicas = new List<Process>();
        // The master may end the process itself (SHUTDOWN, SIGTERM): the replicas go with it.
        int stopped = 0;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { if (Interlocked.Exchange(ref stopped, 1) == 0) StopReplicas(replicas); };
        try
        {
            for (int r = 1; r <= Replicas; r++) replicas.Add(StartReplica(port + r, port));
            string dir = DataDir(port);
            string[] serverArgs = ["--bind", "127.0.0.1", "--port", port.ToString(), "--dir", dir, .. rest];
            return ServerMain.Run(serverArgs);
        }
        finally
        {
            if (Interlocked.Exchange(ref stopped, 1) == 0) StopReplicas(replicas);
        }
    }

    private static string DataDir(int port)
    {
        string dir = Path.GetFullPath(Path.Combine("var", port.ToString()));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static Process StartReplica(int port, int masterPort)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
        foreach (var a in new[] { "server", "--bind", "127.0.0.1", "--port", port.ToString(), "--dir", DataDir(port),
                     "--replicaof", "127.0.0.1", masterPort.ToString() })
            psi.ArgumentList.Add(a);
        return Process.Start(psi) ?? throw new InvalidOperationException($"could not start the replica on port {port}");
    }

    /// <summary>SIGTERM (a clean shutdown that saves), then a kill for any replica that lingers.</summary>
    private static void StopReplicas(List<Process> replicas)
    {
        foreach (var p in replicas)
        {
            try { if (!p.HasExited) Process.Start("kill", ["-TERM", p.Id.ToString()])?.WaitForExit(); }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { }
        }
        foreach (var p in replicas)
        {
            try
            {
                if (!p.WaitForExit(ReplicaStopTimeoutMs)) p.Kill();
            }
            catch (InvalidOperationException) { }
        }
    }
}
