using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace HealthMate.Backup.Tests.Support;

/// <summary>
/// One network link for partition tests: a TCP proxy listening on an ephemeral port of 127.0.0.1 that forwards each
/// connection to one upstream port of 127.0.0.1, in the <see cref="LinkMode"/> a test switches at any time. It knows
/// nothing of the protocol it carries.
/// </summary>
/// <remarks>
/// <para><see cref="BlackHole"/> silences the open connections for good: <see cref="Heal"/> resets them instead of
/// resuming them. A real partition long enough to matter outlasts the peers' own timeouts (TCP retransmission and
/// keepalive, <c>wal_receiver_timeout</c>, a client's command timeout), after which neither end would accept the
/// connection again; resetting at the heal makes every survivor reconnect through the healed link instead of hanging
/// on a connection nobody would use again. While silenced, a connection passes nothing on, not even one end's close.</para>
/// <para>A connection accepted while the link is <see cref="LinkMode.Cut"/> is reset at once (the kernel has already
/// completed the handshake, so the client sees a reset rather than a refusal; either way it fails at once). One
/// accepted while black-holed never reaches the upstream at all.</para>
/// </remarks>
internal sealed class TcpLink : IAsyncDisposable
{
    private const int BufferSize = 64 * 1024;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<Connection, Task> _connections = new();
    private Task _accepting = Task.CompletedTask;
    private LinkMode _mode;
    private long _latencyTicks;
    private int _accepted;
    private int _disposed;

    private TcpLink(string name, int upstreamPort)
    {
        Name = name;
        UpstreamPort = upstreamPort;
        _upstream = new IPEndPoint(IPAddress.Loopback, upstreamPort);
    }

    /// <summary>Gets the link's name, for messages (<c>client→primary</c>).</summary>
    public string Name { get; }

    /// <summary>Gets the port of 127.0.0.1 the link listens on: where its clients connect.</summary>
    public int Port { get; private set; }

    /// <summary>Gets the port of 127.0.0.1 the link forwards to.</summary>
    public int UpstreamPort { get; }

    /// <summary>Gets the current mode.</summary>
    public LinkMode Mode
    {
        get
        {
            lock (_gate)
            {
                return _mode;
            }
        }
    }

    /// <summary>Gets the latency added to each chunk (zero unless the mode is <see cref="LinkMode.Delay"/>).</summary>
    public TimeSpan Latency => TimeSpan.FromTicks(Volatile.Read(ref _latencyTicks));

    /// <summary>Gets how many connections the link accepted, in every mode (those reset at once included).</summary>
    public int ConnectionsAccepted => Volatile.Read(ref _accepted);

    /// <summary>Gets how many accepted connections are still open (silenced ones included).</summary>
    public int OpenConnections => _connections.Count;

    /// <summary>Starts a link in <see cref="LinkMode.Pass"/> on a free port of 127.0.0.1.</summary>
    /// <param name="upstreamPort">The port of 127.0.0.1 to forward to.</param>
    /// <param name="name">A name for messages.</param>
    /// <returns>The running link; dispose it to close every connection.</returns>
    public static TcpLink Start(int upstreamPort, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(upstreamPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(upstreamPort, 65535);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var link = new TcpLink(name, upstreamPort);
        link._listener.Start();
        link.Port = ((IPEndPoint)link._listener.LocalEndpoint).Port;
        link._accepting = link.AcceptAsync();
        return link;
    }

    /// <summary>Resets every open connection, and every new one until the link heals.</summary>
    public void Cut() => Switch(LinkMode.Cut, TimeSpan.Zero);

    /// <summary>Silences every open connection for good and accepts new ones without ever forwarding or answering.</summary>
    public void BlackHole() => Switch(LinkMode.BlackHole, TimeSpan.Zero);

    /// <summary>Forwards again, each chunk (and a new connection's connect) after <paramref name="latency"/>; the chunks
    /// of one direction wait one after another. Silenced connections are reset, as by <see cref="Heal"/>.</summary>
    /// <param name="latency">The added latency.</param>
    public void Delay(TimeSpan latency)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(latency, TimeSpan.Zero);
        Switch(LinkMode.Delay, latency);
    }

    /// <summary>Returns to <see cref="LinkMode.Pass"/>, resetting the connections a black hole silenced.</summary>
    public void Heal() => Switch(LinkMode.Pass, TimeSpan.Zero);

    /// <summary>Stops listening and resets every connection.</summary>
    /// <returns>A task that completes when every connection has ended.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        foreach (var connection in _connections.Keys)
        {
            connection.Reset();
        }

        await Task.WhenAll(_connections.Values);
        _stop.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Name} (127.0.0.1:{Port} to {UpstreamPort}, {Mode})");

    private void Switch(LinkMode mode, TimeSpan latency)
    {
        lock (_gate)
        {
            _mode = mode;
            Volatile.Write(ref _latencyTicks, latency.Ticks);
            foreach (var connection in _connections.Keys)
            {
                if (mode == LinkMode.Cut || (mode != LinkMode.BlackHole && connection.IsSilenced))
                {
                    connection.Reset();
                }
                else if (mode == LinkMode.BlackHole)
                {
                    connection.Silence();
                }
            }
        }
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException || (e is SocketException or ObjectDisposedException && _stop.IsCancellationRequested))
            {
                return; // disposed
            }

            Interlocked.Increment(ref _accepted);
            socket.NoDelay = true;
            Connection connection;
            lock (_gate)
            {
                if (_mode == LinkMode.Cut)
                {
                    Close(socket, abort: true);
                    continue;
                }

                // Registered under the lock, so a mode switch that follows sees it.
                connection = new Connection(this, socket, silenced: _mode == LinkMode.BlackHole);
                _connections[connection] = Task.CompletedTask;
            }

            var running = connection.RunAsync();
            _connections[connection] = running;
            _ = running.ContinueWith(_ => _connections.TryRemove(connection, out var _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>Closes a socket; <paramref name="abort"/> sends a reset (linger 0) instead of an orderly close.</summary>
    private static void Close(Socket? socket, bool abort)
    {
        if (socket is null)
        {
            return;
        }

        if (abort)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Already shut down or closed: the close below is all that is left to do.
            }
        }

        socket.Dispose();
    }

    /// <summary>One accepted connection and the upstream connection it is forwarded to.</summary>
    private sealed class Connection(TcpLink link, Socket client, bool silenced)
    {
        private readonly Lock _gate = new();
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Socket? _upstream;
        private volatile bool _silenced = silenced;

        public bool IsSilenced => _silenced;

        /// <summary>Stops forwarding both ways, for good, without closing either side.</summary>
        public void Silence() => _silenced = true;

        /// <summary>Resets both sides.</summary>
        public void Reset() => CloseBoth(abort: true);

        public async Task RunAsync()
        {
            try
            {
                var upstream = _silenced ? null : await ConnectAsync();
                if (upstream is null)
                {
                    await _closed.Task; // black-holed from the start, or already reset
                    return;
                }

                await Task.WhenAll(PumpAsync(client, upstream), PumpAsync(upstream, client));
            }
            finally
            {
                CloseBoth(abort: false); // both sides closed in order (or the connection was already closed)
            }
        }

        private async Task<Socket?> ConnectAsync()
        {
            var latency = link.Latency;
            if (latency > TimeSpan.Zero)
            {
                await Task.Delay(latency);
            }

            var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            lock (_gate)
            {
                if (_closed.Task.IsCompleted)
                {
                    upstream.Dispose();
                    return null;
                }

                _upstream = upstream;
            }

            try
            {
                await upstream.ConnectAsync(link._upstream);
                return upstream;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // The upstream is down (or the connection was reset meanwhile): the client sees a reset, as it would
                // see a refused connection; a silenced client sees nothing.
                if (!_silenced)
                {
                    Reset();
                }

                return null;
            }
        }

        /// <summary>Forwards one direction until its end of stream (passed on as an orderly close) or a reset (passed
        /// on as a reset); once silenced, drops what it read, stops reading, and waits for the connection's end.</summary>
        private async Task PumpAsync(Socket from, Socket to)
        {
            var buffer = new byte[BufferSize];
            try
            {
                while (!_silenced)
                {
                    var read = await from.ReceiveAsync(buffer, SocketFlags.None);
                    if (read == 0)
                    {
                        if (!_silenced)
                        {
                            to.Shutdown(SocketShutdown.Send);
                        }

                        break;
                    }

                    var latency = link.Latency;
                    if (latency > TimeSpan.Zero)
                    {
                        await Task.Delay(latency);
                    }

                    for (var sent = 0; sent < read && !_silenced;)
                    {
                        sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None);
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // One side reset (or the link closed the connection): reset the other too, unless silenced.
                if (!_silenced)
                {
                    Reset();
                }
            }

            if (_silenced)
            {
                await _closed.Task;
            }
        }

        private void CloseBoth(bool abort)
        {
            Socket? upstream;
            lock (_gate)
            {
                if (!_closed.TrySetResult())
                {
                    return;
                }

                upstream = _upstream;
            }

            Close(client, abort);
            Close(upstream, abort);
        }
    }
}
