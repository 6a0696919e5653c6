using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace HealthMate.Backup.Tests.Support;

/// <summary>
/// An HTTP/1.1 proxy on 127.0.0.1 for tests that injects faults (<see cref="FaultKind"/>) between a client and a real
/// server on 127.0.0.1 (here the S3 SDK and RGW). Each client connection gets its own server connection, opened on its
/// first request and kept alive as long as both sides keep theirs. It parses only the framing: request and status
/// lines, headers, Content-Length and chunked bodies, interim 1xx responses (passed through, so Expect: 100-continue
/// uploads work) and close-delimited responses; bodies stream through a 64 KiB buffer and are never held whole.
/// </summary>
internal sealed class FaultProxy : IAsyncDisposable
{
    private const int BufferSize = 64 * 1024;

    /// <summary>How long a final response waits for the request body still being forwarded (normally the last
    /// bytes, already with the server) before the exchange counts as answered early and the connection closes.</summary>
    private static readonly TimeSpan BodyGrace = TimeSpan.FromMilliseconds(200);

    /// <summary>How long a closing connection waits for the client to close its side after ours.</summary>
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(2);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _rulesLock = new();
    private readonly List<RuleState> _rules = [];
    private readonly ConcurrentQueue<ProxyLogEntry> _log = new();
    private readonly int[] _injected = new int[Enum.GetValues<FaultKind>().Length];
    private readonly ConcurrentDictionary<Session, Task> _sessions = new();
    private Task _accepting = Task.CompletedTask;
    private int _connections;
    private int _disposed;

    private FaultProxy(IPEndPoint upstream) => _upstream = upstream;

    /// <summary>Gets the address clients use, <c>http://127.0.0.1:port/</c>.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Gets how many client connections the proxy accepted (keep-alive makes this much smaller than the number
    /// of requests).</summary>
    public int ConnectionsAccepted => Volatile.Read(ref _connections);

    /// <summary>Gets every request so far, in the order their outcome was known.</summary>
    public IReadOnlyList<ProxyLogEntry> Log => _log.ToArray();

    /// <summary>Gets how many faults were injected, all kinds together.</summary>
    public int TotalInjected => Enum.GetValues<FaultKind>().Sum(Injected);

    /// <summary>Starts a proxy on a free port of 127.0.0.1 that forwards to <paramref name="upstream"/>.</summary>
    /// <param name="upstream">The server, plain HTTP on 127.0.0.1 only.</param>
    /// <returns>The running proxy; dispose it to stop.</returns>
    public static Task<FaultProxy> StartAsync(Uri upstream)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        if (upstream.Scheme != Uri.UriSchemeHttp || !IPAddress.TryParse(upstream.Host, out var address) || !address.Equals(IPAddress.Loopback))
        {
            throw new ArgumentException($"The fault proxy forwards plain HTTP to 127.0.0.1 only, not to {upstream}.", nameof(upstream));
        }

        var proxy = new FaultProxy(new IPEndPoint(address, upstream.Port));
        proxy._listener.Start();
        var port = ((IPEndPoint)proxy._listener.LocalEndpoint).Port;
        proxy.Endpoint = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
        proxy._accepting = proxy.AcceptAsync();
        return Task.FromResult(proxy);
    }

    /// <summary>Adds a rule after the existing ones.</summary>
    /// <param name="rule">The rule; the fields its kind needs must be set.</param>
    public void AddRule(FaultRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        rule.Validate();
        lock (_rulesLock)
        {
            _rules.Add(new RuleState(rule));
        }
    }

    /// <summary>Removes every rule; requests pass untouched from now on.</summary>
    public void ClearRules()
    {
        lock (_rulesLock)
        {
            _rules.Clear();
        }
    }

    /// <summary>How many faults of a kind were injected.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>The count.</returns>
    public int Injected(FaultKind kind) => Volatile.Read(ref _injected[(int)kind]);

    /// <summary>Stops listening and closes every connection.</summary>
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
        foreach (var session in _sessions.Keys)
        {
            session.Abort();
        }

        await Task.WhenAll(_sessions.Values);
        _stop.Dispose();
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
            catch (OperationCanceledException)
            {
                return; // disposed
            }

            Interlocked.Increment(ref _connections);
            var session = new Session(this, socket);
            var running = session.RunAsync();
            _sessions[session] = running;
            _ = running.ContinueWith(_ => _sessions.TryRemove(session, out var _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>The first rule that matches and is due, counting the match on every rule that matches up to it.</summary>
    private FaultRule? Pick(ProxyRequest request)
    {
        lock (_rulesLock)
        {
            foreach (var state in _rules)
            {
                if (!state.Rule.Match(request))
                {
                    continue;
                }

                state.Matches++;
                if (state.Matches > state.Rule.Skip && state.Fired < state.Rule.Times)
                {
                    state.Fired++;
                    return state.Rule;
                }
            }
        }

        return null;
    }

    private void Record(ProxyRequest request, FaultKind? fault, int? upstreamStatus)
    {
        if (fault is { } kind)
        {
            Interlocked.Increment(ref _injected[(int)kind]);
        }

        _log.Enqueue(new ProxyLogEntry(request.Method, request.Path, request.Query, fault, upstreamStatus));
    }

    /// <summary>Marks a task's failure observed: it belongs to a connection that is being torn down anyway.</summary>
    private static void Forget(Task task) =>
        task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private sealed class RuleState(FaultRule rule)
    {
        public FaultRule Rule { get; } = rule;

        public int Matches { get; set; }

        public int Fired { get; set; }
    }

    /// <summary>One client connection and the server connection that serves it.</summary>
    private sealed class Session
    {
        private readonly FaultProxy _proxy;
        private readonly Socket _clientSocket;
        private readonly NetworkStream _client;
        private readonly HttpReader _clientReader;
        private readonly CancellationToken _stop;
        private Socket? _upstreamSocket;
        private NetworkStream? _upstream;
        private HttpReader? _upstreamReader;
        private ProxyRequest? _current;
        private bool _reset;

        public Session(FaultProxy proxy, Socket client)
        {
            _proxy = proxy;
            _stop = proxy._stop.Token;
            _clientSocket = client;
            _clientSocket.NoDelay = true;
            _client = new NetworkStream(client, ownsSocket: true);
            _clientReader = new HttpReader(_client);
        }

        public async Task RunAsync()
        {
            try
            {
                while (await ExchangeAsync())
                {
                }

                if (!_reset)
                {
                    await CloseGracefullyAsync();
                }
            }
            catch (Exception error) // connection boundary: a peer that resets or closes, a malformed message or the proxy's disposal ends this connection only, never the proxy or the test
            {
                if (_current is { } request)
                {
                    _proxy._log.Enqueue(new ProxyLogEntry(request.Method, request.Path, request.Query, null, null) { Error = error.GetType().Name + ": " + error.Message });
                }
            }
            finally
            {
                _client.Dispose();
                _upstream?.Dispose();
                _upstreamSocket?.Dispose();
            }
        }

        /// <summary>Closes both connections at once (the proxy's disposal).</summary>
        public void Abort()
        {
            _clientSocket.Dispose();
            Volatile.Read(ref _upstreamSocket)?.Dispose();
        }

        /// <summary>Logs the current request's outcome (a later failure on this exchange is not logged again).</summary>
        private void Record(FaultKind? fault, int? upstreamStatus)
        {
            if (_current is { } request)
            {
                _proxy.Record(request, fault, upstreamStatus);
                _current = null;
            }
        }

        /// <summary>Serves one request; false when the connection ends after it.</summary>
        private async Task<bool> ExchangeAsync()
        {
            var head = await _clientReader.ReadHeadAsync(skipEmptyLines: true, _stop);
            if (head is null)
            {
                return false; // the client closed between requests
            }

            var request = new Request(head);
            _current = request.Info;
            var rule = _proxy.Pick(request.Info);
            bool keepAlive;
            switch (rule?.Kind)
            {
                case FaultKind.ErrorStatus:
                    await AnswerErrorAsync(request, rule);
                    keepAlive = false;
                    break;
                case FaultKind.Delay:
                    await Task.Delay(rule.Delay!.Value, _stop);
                    keepAlive = await ForwardAsync(request, rule);
                    break;
                default:
                    keepAlive = await ForwardAsync(request, rule);
                    break;
            }

            return keepAlive;
        }

        /// <summary>Forwards the request and relays the answer, injecting the rule's fault (DropResponse, ResetMidBody,
        /// or only logging a Delay); false when the connection ends after it.</summary>
        private async Task<bool> ForwardAsync(Request request, FaultRule? rule)
        {
            var (upstream, upstreamReader) = await ConnectUpstreamAsync();
            await upstream.WriteAsync(request.Head.Serialize(), _stop);
            var limit = rule?.Kind == FaultKind.ResetMidBody ? rule.AfterBodyBytes!.Value : long.MaxValue;
            var body = RelayBodyAsync(_clientReader, upstream, request.Framing, limit, _stop);

            HttpHead response;
            int status;
            while (true)
            {
                var reading = upstreamReader.ReadHeadAsync(skipEmptyLines: false, _stop).AsTask();
                if (limit != long.MaxValue && !body.IsCompleted)
                {
                    await Task.WhenAny(body, reading);
                    if (body.IsCompleted && !await body)
                    {
                        // The body reached the rule's limit before the server answered: reset mid-upload.
                        Record(FaultKind.ResetMidBody, null);
                        Reset();
                        Forget(reading);
                        return false;
                    }
                }

                response = await reading ?? throw new IOException("The server closed the connection before answering.");
                status = response.Status;
                if (status >= 200)
                {
                    break;
                }

                if (status == 101)
                {
                    throw new InvalidDataException("The proxy does not support protocol switches.");
                }

                await _client.WriteAsync(response.Serialize(), _stop); // 100 Continue and other interim responses
            }

            if (!body.IsCompleted)
            {
                await Task.WhenAny(body, Task.Delay(BodyGrace, _stop));
            }

            var bodyForwarded = body.IsCompletedSuccessfully && body.Result;
            if (rule?.Kind == FaultKind.DropResponse)
            {
                // The server has acted on the request (its final status line is here); the client never hears of it.
                Record(FaultKind.DropResponse, status);
                Reset();
                Forget(body);
                return false;
            }

            // Answered before the body went through (a rejected Expect: 100-continue, an early error): whether the client
            // still sends the body is not known, so this connection ends with this response.
            if (!bodyForwarded)
            {
                response = response.With("Connection", "close");
                Forget(body);
            }

            var framing = BodyFraming.OfResponse(request.Info.Method, status, response);
            Record(rule?.Kind == FaultKind.Delay ? FaultKind.Delay : null, status);
            await _client.WriteAsync(response.Serialize(), _stop);
            await RelayBodyAsync(upstreamReader, _client, framing, long.MaxValue, _stop);
            var keepAlive = bodyForwarded && request.KeepAlive && response.KeepAlive && framing.Kind != BodyKind.UntilClose;
            if (!keepAlive)
            {
                CloseUpstream();
            }

            return keepAlive;
        }

        /// <summary>Answers with the rule's status and an S3 error body without asking the server.</summary>
        private async Task AnswerErrorAsync(Request request, FaultRule rule)
        {
            if (!request.ExpectsContinue)
            {
                await RelayBodyAsync(_clientReader, Stream.Null, request.Framing, long.MaxValue, _stop);
            }

            var status = rule.Status!.Value;
            var body = Encoding.UTF8.GetBytes(
                $"""<?xml version="1.0" encoding="UTF-8"?><Error><Code>{rule.EffectiveErrorCode}</Code><Message>injected</Message><RequestId>fault</RequestId></Error>""");
            var reason = status switch
            {
                500 => "Internal Server Error",
                503 => "Service Unavailable",
                _ => "Injected Error",
            };
            var head = string.Create(CultureInfo.InvariantCulture,
                $"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {body.Length}\r\nx-amz-request-id: fault\r\nConnection: close\r\n\r\n");
            Record(FaultKind.ErrorStatus, null);
            await _client.WriteAsync(Encoding.Latin1.GetBytes(head), _stop);
            await _client.WriteAsync(body, _stop);
        }

        private async Task<(NetworkStream Stream, HttpReader Reader)> ConnectUpstreamAsync()
        {
            if (_upstream is null || _upstreamReader is null)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                Volatile.Write(ref _upstreamSocket, socket);
                await socket.ConnectAsync(_proxy._upstream, _stop);
                _upstream = new NetworkStream(socket, ownsSocket: true);
                _upstreamReader = new HttpReader(_upstream);
            }

            return (_upstream, _upstreamReader);
        }

        private void CloseUpstream()
        {
            _upstream?.Dispose();
            _upstream = null;
            _upstreamReader = null;
        }

        /// <summary>Resets the client's connection (RST, no FIN) and closes the server's.</summary>
        private void Reset()
        {
            _reset = true;
            _clientSocket.LingerState = new LingerOption(true, 0);
            _clientSocket.Close();
            CloseUpstream();
        }

        /// <summary>Ends our side, then reads what the client still sends until it closes too, so that unread bytes
        /// (a body sent after an early answer) do not turn the close into a reset that could overtake the answer.</summary>
        private async Task CloseGracefullyAsync()
        {
            _clientSocket.Shutdown(SocketShutdown.Send);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop);
            timeout.CancelAfter(LingerTimeout);
            while (true)
            {
                var data = await _clientReader.PeekAsync(BufferSize, timeout.Token);
                if (data.IsEmpty)
                {
                    return;
                }

                _clientReader.Consume(data.Length);
            }
        }
    }

    /// <summary>Copies one message body as framed; false when <paramref name="limit"/> bytes went through before its
    /// end (the rest is neither read nor sent).</summary>
    private static async Task<bool> RelayBodyAsync(HttpReader from, Stream to, BodyFraming framing, long limit, CancellationToken cancellation)
    {
        var sink = new LimitedSink(to, limit);
        switch (framing.Kind)
        {
            case BodyKind.None:
                return true;
            case BodyKind.Length:
                return await CopyAsync(from, sink, framing.Length, untilClose: false, cancellation);
            case BodyKind.UntilClose:
                return await CopyAsync(from, sink, long.MaxValue, untilClose: true, cancellation);
            default:
                while (true)
                {
                    var sizeLine = await from.ReadLineAsync(cancellation) ?? throw new IOException("The connection closed mid-body.");
                    if (!await sink.WriteLineAsync(sizeLine, cancellation))
                    {
                        return false;
                    }

                    var size = long.Parse(sizeLine.Split(';')[0].Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
                    if (size == 0)
                    {
                        while (true)
                        {
                            var trailer = await from.ReadLineAsync(cancellation) ?? throw new IOException("The connection closed mid-body.");
                            if (!await sink.WriteLineAsync(trailer, cancellation))
                            {
                                return false;
                            }

                            if (trailer.Length == 0)
                            {
                                return true;
                            }
                        }
                    }

                    if (!await CopyAsync(from, sink, size, untilClose: false, cancellation))
                    {
                        return false;
                    }

                    var end = await from.ReadLineAsync(cancellation);
                    if (end is not { Length: 0 })
                    {
                        throw new InvalidDataException("A chunk does not end with CRLF.");
                    }

                    if (!await sink.WriteLineAsync(end, cancellation))
                    {
                        return false;
                    }
                }
        }
    }

    private static async Task<bool> CopyAsync(HttpReader from, LimitedSink to, long count, bool untilClose, CancellationToken cancellation)
    {
        while (count > 0)
        {
            var data = await from.PeekAsync(count, cancellation);
            if (data.IsEmpty)
            {
                return untilClose ? true : throw new IOException("The connection closed mid-body.");
            }

            if (!await to.WriteAsync(data, cancellation))
            {
                return false;
            }

            from.Consume(data.Length);
            count -= data.Length;
        }

        return true;
    }

    /// <summary>A destination that takes at most a number of bytes.</summary>
    private sealed class LimitedSink(Stream to, long limit)
    {
        private static readonly byte[] Crlf = "\r\n"u8.ToArray();
        private long _remaining = limit;

        /// <summary>Writes the data, or as much of it as the limit allows; false when it cut the data short.</summary>
        public async ValueTask<bool> WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellation)
        {
            var allowed = (int)Math.Min(data.Length, _remaining);
            if (allowed > 0)
            {
                await to.WriteAsync(data[..allowed], cancellation);
                _remaining -= allowed;
            }

            return allowed == data.Length;
        }

        public async ValueTask<bool> WriteLineAsync(string line, CancellationToken cancellation) =>
            await WriteAsync(Encoding.Latin1.GetBytes(line), cancellation) && await WriteAsync(Crlf, cancellation);
    }

    private enum BodyKind
    {
        None,
        Length,
        Chunked,
        UntilClose,
    }

    private readonly record struct BodyFraming(BodyKind Kind, long Length)
    {
        public static BodyFraming OfRequest(HttpHead head) =>
            head.IsChunked ? new(BodyKind.Chunked, 0)
            : head.ContentLength is { } length ? new(BodyKind.Length, length)
            : new(BodyKind.None, 0);

        public static BodyFraming OfResponse(string method, int status, HttpHead head) =>
            method == "HEAD" || status is (>= 100 and < 200) or 204 or 304 ? new(BodyKind.None, 0)
            : head.IsChunked ? new(BodyKind.Chunked, 0)
            : head.ContentLength is { } length ? new(BodyKind.Length, length)
            : new(BodyKind.UntilClose, 0);
    }

    /// <summary>A parsed request: what the rules see, its framing and whether it keeps the connection.</summary>
    private sealed class Request
    {
        public Request(HttpHead head)
        {
            Head = head;
            var parts = head.StartLine.Split(' ');
            if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            {
                throw new InvalidDataException($"Not an HTTP/1.x request line: {head.StartLine}");
            }

            var target = parts[1];
            var question = target.IndexOf('?', StringComparison.Ordinal);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, value) in head.Headers)
            {
                headers[name] = headers.TryGetValue(name, out var earlier) ? earlier + ", " + value : value;
            }

            Info = new ProxyRequest(parts[0], question < 0 ? target : target[..question], question < 0 ? string.Empty : target[(question + 1)..], headers);
            Framing = BodyFraming.OfRequest(head);
            ExpectsContinue = head.Get("Expect")?.Contains("100-continue", StringComparison.OrdinalIgnoreCase) == true;
            KeepAlive = head.KeepAlive;
        }

        public HttpHead Head { get; }

        public ProxyRequest Info { get; }

        public BodyFraming Framing { get; }

        public bool ExpectsContinue { get; }

        public bool KeepAlive { get; }
    }

    /// <summary>A start line and the headers, as received (header values trimmed).</summary>
    private sealed record HttpHead(string StartLine, IReadOnlyList<KeyValuePair<string, string>> Headers)
    {
        /// <summary>The status of a response (its start line's second word).</summary>
        public int Status
        {
            get
            {
                var parts = StartLine.Split(' ', 3);
                return parts.Length >= 2 && parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status)
                    ? status
                    : throw new InvalidDataException($"Not an HTTP/1.x status line: {StartLine}");
            }
        }

        public bool IsChunked =>
            Get("Transfer-Encoding") is { } codings && codings.Split(',')[^1].Trim().Equals("chunked", StringComparison.OrdinalIgnoreCase);

        public long? ContentLength =>
            Get("Content-Length") is { } value
                ? long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var length) ? length : throw new InvalidDataException($"Bad Content-Length: {value}")
                : null;

        /// <summary>Whether the connection stays open after this message (HTTP/1.1 unless "close", HTTP/1.0 only with
        /// "keep-alive").</summary>
        public bool KeepAlive
        {
            get
            {
                var tokens = (Get("Connection") ?? string.Empty).Split(',').Select(t => t.Trim()).ToList();
                var http10 = StartLine.StartsWith("HTTP/1.0", StringComparison.Ordinal) || StartLine.EndsWith("HTTP/1.0", StringComparison.Ordinal);
                return http10
                    ? tokens.Contains("keep-alive", StringComparer.OrdinalIgnoreCase)
                    : !tokens.Contains("close", StringComparer.OrdinalIgnoreCase);
            }
        }

        public string? Get(string name)
        {
            var values = Headers.Where(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).ToList();
            return values.Count == 0 ? null : string.Join(", ", values);
        }

        /// <summary>A copy with the header set to one value (replacing any it had).</summary>
        public HttpHead With(string name, string value) =>
            this with { Headers = [.. Headers.Where(h => !h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)), new(name, value)] };

        public byte[] Serialize()
        {
            var text = new StringBuilder(StartLine).Append("\r\n");
            foreach (var (name, value) in Headers)
            {
                text.Append(name).Append(": ").Append(value).Append("\r\n");
            }

            return Encoding.Latin1.GetBytes(text.Append("\r\n").ToString());
        }
    }

    /// <summary>Buffered reading of lines and raw bytes from one connection.</summary>
    private sealed class HttpReader(Stream stream)
    {
        private const int MaxHeaders = 256;
        private readonly byte[] _buffer = new byte[BufferSize];
        private int _start;
        private int _end;

        /// <summary>The next head, or null when the connection closed before its first byte.</summary>
        public async ValueTask<HttpHead?> ReadHeadAsync(bool skipEmptyLines, CancellationToken cancellation)
        {
            var startLine = await ReadLineAsync(cancellation);
            while (skipEmptyLines && startLine is { Length: 0 })
            {
                startLine = await ReadLineAsync(cancellation);
            }

            if (startLine is null)
            {
                return null;
            }

            var headers = new List<KeyValuePair<string, string>>();
            while (true)
            {
                var line = await ReadLineAsync(cancellation) ?? throw new IOException("The connection closed mid-head.");
                if (line.Length == 0)
                {
                    return new HttpHead(startLine, headers);
                }

                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0 || headers.Count == MaxHeaders)
                {
                    throw new InvalidDataException($"Bad or too many header lines: {line}");
                }

                headers.Add(new(line[..colon].Trim(), line[(colon + 1)..].Trim()));
            }
        }

        /// <summary>The next line without its CRLF, or null when the connection closed before its first byte.</summary>
        public async ValueTask<string?> ReadLineAsync(CancellationToken cancellation)
        {
            var scanned = 0;
            while (true)
            {
                var newline = Array.IndexOf(_buffer, (byte)'\n', _start + scanned, _end - _start - scanned);
                if (newline >= 0)
                {
                    var end = newline > _start && _buffer[newline - 1] == '\r' ? newline - 1 : newline;
                    var line = Encoding.Latin1.GetString(_buffer, _start, end - _start);
                    _start = newline + 1;
                    return line;
                }

                scanned = _end - _start;
                if (_start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, scanned);
                    (_start, _end) = (0, scanned);
                }

                if (_end == _buffer.Length)
                {
                    throw new InvalidDataException("A line is longer than 64 KiB.");
                }

                var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellation);
                if (read == 0)
                {
                    return scanned == 0 ? null : throw new IOException("The connection closed mid-line.");
                }

                _end += read;
            }
        }

        /// <summary>Up to <paramref name="max"/> buffered bytes (reading when none are), empty at the end of the
        /// connection; valid until the next call, and not consumed until <see cref="Consume"/>.</summary>
        public async ValueTask<ReadOnlyMemory<byte>> PeekAsync(long max, CancellationToken cancellation)
        {
            if (_start == _end)
            {
                _start = 0;
                _end = await stream.ReadAsync(_buffer, cancellation);
            }

            return _buffer.AsMemory(_start, (int)Math.Min(max, _end - _start));
        }

        public void Consume(int count) => _start += count;
    }
}
