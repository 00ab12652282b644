using System.Diagnostics;
using System.Net.NetworkInformation;
using System.Text;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Protected mode seen from a real non-loopback client: the test builds a private network namespace joined
/// to this one by a veth pair with a 10.200.x.y/30 link of its own, connects from inside it, and removes it
/// afterwards. No traffic leaves the two ends the test creates.
/// </summary>
public sealed class ProtectedModeTests
{
    private const string Denied =
        "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. " +
        "In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you " +
        "may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the " +
        "loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible " +
        "from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode " +
        "by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you " +
        "started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password " +
        "for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from " +
        "the outside.\r\n";

    [NetnsFact]
    public void ExternalClientsAreDeniedWhileTheDefaultUserHasNoPassword()
    {
        using var net = new VethNamespace();
        // Binding an explicit address does not lift protected mode.
        using var server = new ServerProcess(null, "--bind", "127.0.0.1", net.HostAddress);
        Assert.Equal(Denied, net.Exchange(server.Port, "PING\r\n"));

        using var local = server.Connect();
        Assert.Equal("PONG", local.Call("PING"));

        // With a password the external client may connect, and must authenticate.
        Assert.Equal("OK", local.Call("ACL", "SETUSER", "default", ">secret"));
        Assert.Equal("-NOAUTH Authentication required.\r\n+OK\r\n+PONG\r\n", net.Exchange(server.Port, "PING\r\nAUTH secret\r\nPING\r\n"));

        // Back to no password: denied again, for new connections.
        Assert.Equal("OK", local.Call("AUTH", "secret"));
        Assert.Equal("OK", local.Call("ACL", "SETUSER", "default", "nopass"));
        Assert.Equal(Denied, net.Exchange(server.Port, "PING\r\n"));
    }

    [NetnsFact]
    public void ProtectedModeOffAcceptsExternalClients()
    {
        using var net = new VethNamespace();
        using var server = new ServerProcess(null, "--bind", "127.0.0.1", net.HostAddress, "--protected-mode", "no");
        Assert.Equal("+PONG\r\n", net.Exchange(server.Port, "PING\r\n"));
    }

    [NetnsFact]
    public void RequirepassAcceptsExternalClients()
    {
        using var net = new VethNamespace();
        using var server = new ServerProcess(null, "--bind", "127.0.0.1", net.HostAddress, "--requirepass", "pw");
        Assert.Equal("-NOAUTH Authentication required.\r\n", net.Exchange(server.Port, "PING\r\n"));
    }
}

/// <summary>Runs only as root with the `ip` tool and network namespace support; otherwise skipped with the reason.</summary>
public sealed class NetnsFactAttribute : FactAttribute
{
    public NetnsFactAttribute()
    {
        if (VethNamespace.Unavailable() is string why) Skip = why;
    }
}

/// <summary>A network namespace linked to the test's own by a veth pair on a private /30 chosen at random.</summary>
public sealed class VethNamespace : IDisposable
{
    private static int _counter;
    private readonly string _ns;
    private readonly string _hostIf;
    public string HostAddress { get; }
    public string PeerAddress { get; }

    public VethNamespace()
    {
        int id = Environment.ProcessId % 100000 * 10 + Interlocked.Increment(ref _counter) % 10;
        _ns = "rdtns" + id;
        _hostIf = "rdv" + id + "h";
        string peerIf = "rdv" + id + "p";
        var (third, fourth) = FreeSubnet();
        HostAddress = $"10.200.{third}.{fourth + 1}";
        PeerAddress = $"10.200.{third}.{fourth + 2}";
        try
        {
            Ip($"netns add {_ns}");
            Ip($"link add {_hostIf} type veth peer name {peerIf}");
            Ip($"link set {peerIf} netns {_ns}");
            Ip($"addr add {HostAddress}/30 dev {_hostIf}");
            Ip($"link set {_hostIf} up");
            Ip($"netns exec {_ns} ip addr add {PeerAddress}/30 dev {peerIf}");
            Ip($"netns exec {_ns} ip link set {peerIf} up");
            Ip($"netns exec {_ns} ip link set lo up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>A 10.200.x.y/30 block that no local interface already uses.</summary>
    private static (int Third, int Fourth) FreeSubnet()
    {
        var used = NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address.ToString())
            .Where(a => a.StartsWith("10.200.", StringComparison.Ordinal))
            .Select(a => a.Split('.'))
            .Select(p => (int.Parse(p[2]), int.Parse(p[3]) & ~3))
            .ToHashSet();
        var rng = new Random();
        while (true)
        {
            var candidate = (rng.Next(0, 256), rng.Next(0, 64) * 4);
            if (!used.Contains(candidate)) return candidate;
        }
    }

    /// <summary>Why the test cannot run here, or null when it can (a throwaway namespace is created and removed).</summary>
    public static string? Unavailable()
    {
        if (Environment.UserName != "root" && Environment.GetEnvironmentVariable("USER") != "root" && !IsRootUid())
            return "needs root to create network namespaces";
        string probe = "rdtprobe" + Environment.ProcessId;
        try
        {
            if (Run("ip", $"netns add {probe}", out string err) != 0) return "cannot create a network namespace: " + err.Trim();
            Run("ip", $"netns del {probe}", out _);
            if (Run("python3", "-c pass", out _) != 0) return "needs python3 to act as the external client";
            return null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "needs the 'ip' tool (iproute2) and python3";
        }
    }

    private static bool IsRootUid()
    {
        try { return File.ReadAllLines("/proc/self/status").Any(l => l.StartsWith("Uid:") && l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0"); }
        catch (IOException) { return false; }
    }

    private static int Run(string file, string args, out string output)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        output = stdout.Result + err;
        return p.ExitCode;
    }

    private static void Ip(string args)
    {
        if (Run("ip", args, out string output) != 0) throw new InvalidOperationException($"ip {args}: {output}");
    }

    /// <summary>From inside the namespace: connects to the host end, sends <paramref name="request"/>, returns all it reads until the server is quiet or closes.</summary>
    public string Exchange(int port, string request)
    {
        const string script =
            "import socket,sys\n" +
            "s=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=5)\n" +
            "s.sendall(sys.argv[3].encode('latin1'))\n" +
            "s.settimeout(1.0)\n" +
            "data=b''\n" +
            "try:\n" +
            "    while True:\n" +
            "        d=s.recv(65536)\n" +
            "        if not d: break\n" +
            "        data+=d\n" +
            "except (socket.timeout, ConnectionResetError):\n" +
            "    pass\n" +
            "sys.stdout.buffer.write(data)\n";
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", _ns, "python3", "-c", script, HostAddress, port.ToString(), request }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var ms = new MemoryStream();
        p.StandardOutput.BaseStream.CopyTo(ms);
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException("external client failed: " + err);
        return Encoding.Latin1.GetString(ms.ToArray());
    }

    public void Dispose()
    {
        // Removing the namespace removes the peer end, and with it the host end of the pair.
        Run("ip", $"netns del {_ns}", out _);
        Run("ip", $"link del {_hostIf}", out _);
    }
}
