using Redoubt.Server.Tracking;

namespace Redoubt.Server.Commands;

/// <summary>CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO: client-side caching (Tracking/TrackingTable.cs).</summary>
public static partial class ClientCommands
{
    private static void BindTracking(CommandTable t)
    {
        t.Bind("client|tracking", Tracking);
        t.Bind("client|caching", Caching);
        t.Bind("client|getredir", c => c.Reply.Integer((c.Flags & ClientFlags.TrackingOn) != 0 ? c.TrackingRedirect : -1));
        t.Bind("client|trackinginfo", TrackingInfo);
    }

    /// <summary>CLIENT TRACKING on|off [REDIRECT id] [BCAST] [PREFIX prefix ...] [OPTIN] [OPTOUT] [NOLOOP].</summary>
    private static void Tracking(Client c)
    {
        long redirect = 0;
        var options = TrackingMode.None;
        var prefixes = new List<byte[]>();
        for (int j = 3; j < c.Argc; j++)
        {
            bool moreArgs = c.Argc - 1 - j > 0;
            if (c.ArgIs(j, "redirect"u8) && moreArgs)
            {
                j++;
                if (redirect != 0)
                {
                    c.Reply.Error("A client can only redirect to a single other client");
                    return;
                }
                if (!c.TryGetLong(j, out redirect)) return;
                // The target must exist now; if it goes away later the client is told then.
                if (c.Server.LookupClient(redirect) is null)
                {
                    c.Reply.Error("The client ID you want redirect to does not exist");
                    return;
                }
            }
            else if (c.ArgIs(j, "bcast"u8)) options |= TrackingMode.Bcast;
            else if (c.ArgIs(j, "optin"u8)) options |= TrackingMode.OptIn;
            else if (c.ArgIs(j, "optout"u8)) options |= TrackingMode.OptOut;
            else if (c.ArgIs(j, "noloop"u8)) options |= TrackingMode.NoLoop;
            else if (c.ArgIs(j, "prefix"u8) && moreArgs) prefixes.Add(c.ArgBytes(++j));
            else
            {
                c.SyntaxError();
                return;
            }
        }

        if (c.ArgIs(2, "off"u8))
        {
            c.Server.Tracking?.Disable(c);
            c.Reply.Ok();
            return;
        }
        if (!c.ArgIs(2, "on"u8))
        {
            c.SyntaxError();
            return;
        }
        bool bcast = (options & TrackingMode.Bcast) != 0;
        if (!bcast && prefixes.Count > 0)
        {
            c.Reply.Error("PREFIX option requires BCAST mode to be enabled");
            return;
        }
        if ((c.Flags & ClientFlags.TrackingOn) != 0 && ((c.TrackingMode & TrackingMode.Bcast) != 0) != bcast)
        {
            c.Reply.Error("You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
            return;
        }
        if (bcast && (options & (TrackingMode.OptIn | TrackingMode.OptOut)) != 0)
        {
            c.Reply.Error("OPTIN and OPTOUT are not compatible with BCAST");
            return;
        }
        if ((options & TrackingMode.OptIn) != 0 && (options & TrackingMode.OptOut) != 0)
        {
            c.Reply.Error("You can't specify both OPTIN mode and OPTOUT mode");
            return;
        }
        if (((options & TrackingMode.OptIn) != 0 && (c.TrackingMode & TrackingMode.OptOut) != 0) ||
            ((options & TrackingMode.OptOut) != 0 && (c.TrackingMode & TrackingMode.OptIn) != 0))
        {
            c.Reply.Error("You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
            return;
        }
        if (bcast && TrackingTable.FindPrefixCollision(c, prefixes, out bool refuse) is string collision)
        {
            c.Reply.Error(collision);
            // Redis refuses only when the first new prefix collides; otherwise, after the error, it goes
            // on to enable tracking and also answers OK.
            if (refuse) return;
        }
        c.Server.TrackingTableForUpdate().Enable(c, redirect, options, prefixes);
        c.Reply.Ok();
    }

    /// <summary>CLIENT CACHING yes|no: whether the next command's reads are remembered (OPTIN/OPTOUT).</summary>
    private static void Caching(Client c)
    {
        if ((c.Flags & ClientFlags.TrackingOn) == 0)
        {
            c.Reply.Error("CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
            return;
        }
        if (c.ArgIs(2, "yes"u8))
        {
            if ((c.TrackingMode & TrackingMode.OptIn) == 0)
            {
                c.Reply.Error("CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
                return;
            }
        }
        else if (c.ArgIs(2, "no"u8))
        {
            if ((c.TrackingMode & TrackingMode.OptOut) == 0)
            {
                c.Reply.Error("CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
                return;
            }
        }
        else
        {
            c.SyntaxError();
            return;
        }
        c.TrackingMode |= TrackingMode.Caching;
        c.Reply.Ok();
    }

    /// <summary>CLIENT TRACKINGINFO: flags, redirect and BCAST prefixes.</summary>
    private static void TrackingInfo(Client c)
    {
        var r = c.Reply;
        bool on = (c.Flags & ClientFlags.TrackingOn) != 0;
        var mode = c.TrackingMode;
        bool caching = (mode & TrackingMode.Caching) != 0;
        var flags = new List<string> { on ? "on" : "off" };
        if ((mode & TrackingMode.Bcast) != 0) flags.Add("bcast");
        if ((mode & TrackingMode.OptIn) != 0)
        {
            flags.Add("optin");
            if (caching) flags.Add("caching-yes");
        }
        if ((mode & TrackingMode.OptOut) != 0)
        {
            flags.Add("optout");
            if (caching) flags.Add("caching-no");
        }
        if ((mode & TrackingMode.NoLoop) != 0) flags.Add("noloop");
        if ((mode & TrackingMode.BrokenRedirect) != 0) flags.Add("broken_redirect");
        r.MapHeader(3);
        r.Bulk("flags"u8);
        r.SetHeader(flags.Count);
        foreach (var f in flags) r.Bulk(f);
        r.Bulk("redirect"u8);
        r.Integer(on ? c.TrackingRedirect : -1);
        r.Bulk("prefixes"u8);
        var prefixes = c.TrackingPrefixes;
        r.ArrayHeader(prefixes?.Count ?? 0);
        if (prefixes != null)
            foreach (var p in prefixes) r.Bulk(p);
    }
}
